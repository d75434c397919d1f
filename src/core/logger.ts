import { pino, type Logger, type DestinationStream } from "pino";

/**
 * Structured logging for all of Hearth (pino). Every log line passes through a redaction hook
 * before it is written, so a secret value that slips into a message or field is replaced by its
 * vault handle even in logs. The vault installs the hook with {@link setLogRedactor} as soon as it
 * is unlocked.
 */

type Redact = (text: string) => string;
let redactor: Redact = (text) => text;

/** Install the function that replaces known secret values in log output (called by the vault). */
export function setLogRedactor(fn: Redact): void {
  redactor = fn;
}

/** Current log redactor (for components that write their own text files, e.g. the prompt trace). */
export function redactForLog(text: string): string {
  return redactor(text);
}

function redactingStream(inner: DestinationStream, pretty: boolean): DestinationStream {
  return { write: (line: string) => inner.write(redactor(pretty ? prettyLine(line) : line)) };
}

const LEVEL_NAMES: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

/**
 * One JSON log line as a short human line ("warn  vault: message  key=value"), for people at a
 * terminal. Services and pipes keep the JSON lines, which log tools parse.
 */
export function prettyLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time: _time, component, msg, ...rest } = rec;
  const extra = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const name = LEVEL_NAMES[Number(level)] ?? String(level);
  return `${name.padEnd(5)} ${component ? `${String(component)}: ` : ""}${String(msg ?? "")}${extra ? `  ${extra}` : ""}\n`;
}

let root: Logger | undefined;

/**
 * Configure the root logger. `destination` defaults to stderr so stdout stays free for the console
 * chat and `--json` output.
 */
export function configureLogger(options: { level?: string; destination?: DestinationStream; pretty?: boolean } = {}): Logger {
  const dest = options.destination ?? pino.destination({ fd: 2, sync: true });
  const pretty = options.pretty ?? (options.destination === undefined && process.stderr.isTTY === true);
  root = pino(
    {
      level: options.level ?? "info",
      base: undefined,
      // Field-level redaction for places where credentials are known to live.
      redact: { paths: ["*.password", "*.token", "*.accessToken", "*.access_token", "headers.authorization"], censor: "[redacted]" },
    },
    redactingStream(dest, pretty),
  );
  return root;
}

/**
 * Logger for a component, e.g. `getLogger("matrix")`. Safe to call at module load: the returned
 * logger follows later {@link configureLogger} calls (level, destination) instead of keeping the
 * root that existed when the module was imported.
 */
export function getLogger(component: string): Logger {
  let boundTo: Logger | undefined;
  let child: Logger | undefined;
  const current = (): Logger => {
    root ??= configureLogger();
    if (boundTo !== root) {
      boundTo = root;
      child = root.child({ component });
    }
    return child!;
  };
  return new Proxy({} as Logger, {
    get(_target, prop) {
      const target = current();
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
