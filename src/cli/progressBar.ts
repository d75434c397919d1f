import cliProgress from "cli-progress";

/** A terminal progress bar for downloads and batches (cli-progress); silent when not a TTY. */
export interface ProgressBar {
  update(done: number, total: number, label?: string): void;
  stop(): void;
}

/** Create a progress bar on stderr. `bytes` formats values as MB. */
export function createProgressBar(title: string, options: { bytes?: boolean } = {}): ProgressBar {
  if (!process.stderr.isTTY) {
    // Logs and CI: print at most one line per 10% so progress is still visible.
    let lastDecile = -1;
    return {
      update(done, total) {
        const decile = total > 0 ? Math.floor((done / total) * 10) : 0;
        if (decile !== lastDecile) {
          lastDecile = decile;
          process.stderr.write(`${title}: ${Math.min(100, decile * 10)}%\n`);
        }
      },
      stop() {},
    };
  }
  const fmt = (v: number) => (options.bytes ? `${(v / 1e6).toFixed(1)} MB` : String(v));
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {percentage}% | {done}/{all} {label}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label = "") {
      if (!started) {
        bar.start(total, done, { done: fmt(done), all: fmt(total), label });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { done: fmt(done), all: fmt(total), label });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
