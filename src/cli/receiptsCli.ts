import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { maxImageBytes, type LoadedConfig } from "../core/config.ts";
import { InputError } from "../core/errors.ts";
import { effectivePeople } from "../app/hearthApp.ts";
import { openVault } from "../app/openVault.ts";
import { openReceipts } from "../app/receiptsSetup.ts";
import { addFiles, exportReceipts, listReceipts, pick } from "../receipts/receiptCli.ts";
import { createProgressBar } from "./progressBar.ts";

async function withReceipts<T>(loaded: LoadedConfig, fn: (r: Awaited<ReturnType<typeof openReceipts>>) => Promise<T>): Promise<T> {
  const vault = await openVault(loaded, { create: true, prompt: true });
  const r = await openReceipts({ config: loaded.config, paths: loaded.paths, vault });
  try {
    return await fn(r);
  } finally {
    r.service.dispose();
    await r.ocr.dispose();
    r.ledger.dispose();
    vault.dispose();
  }
}

function parseYear(y: string | undefined): number | undefined {
  if (y === undefined) return undefined;
  if (!/^(19|20)\d\d$/.test(y)) throw new InputError("BAD_YEAR", `"${y}" is not a year; e.g. --year 2026.`);
  return Number(y);
}

/** `hearth receipts add FILES…` with a progress bar for batches. */
export async function receiptsAdd(loaded: LoadedConfig, files: string[], opts: { patient?: string; json?: boolean; force?: boolean }): Promise<void> {
  const people = effectivePeople(loaded.config);
  const patient = opts.patient ? (people.byName(opts.patient)?.name ?? opts.patient) : (people.list.find((p) => p.role === "admin") ?? people.list[0]!).name;
  await withReceipts(loaded, async ({ service, ocr }) => {
    const bar = !opts.json && files.length > 1 ? createProgressBar("Filing receipts") : undefined;
    const outcomes = await addFiles(service, files, {
      patient,
      ...(opts.force ? { force: true } : {}),
      maxBytes: maxImageBytes(loaded.config),
      // Two photos per OCR worker in flight (one recognising, one being decoded and prepared),
      // as in bench:ocr; they are still filed in command-line order.
      concurrency: 2 * ocr.size,
      onProgress: (done, total, last) => bar?.update(done, total, last.file.split("/").pop()),
    });
    bar?.stop();
    if (opts.json) process.stdout.write(`${JSON.stringify(outcomes, null, 2)}\n`);
    else for (const o of outcomes) process.stdout.write(`${o.file}: ${o.outcome}${o.receiptId !== undefined ? ` #${o.receiptId}` : ""}\n  ${o.message.replace(/\n/g, "\n  ")}\n`);
    if (outcomes.some((o) => o.outcome === "error" || o.outcome === "rejected")) process.exitCode = 1;
  });
}

/** `hearth receipts list`. */
export async function receiptsList(loaded: LoadedConfig, opts: { year?: string; patient?: string; json?: boolean }): Promise<void> {
  const year = parseYear(opts.year);
  await withReceipts(loaded, async ({ service }) => {
    process.stdout.write(`${listReceipts(service, { ...(year !== undefined ? { year } : {}), ...(opts.patient ? { patient: opts.patient } : {}), ...(opts.json ? { json: true } : {}) })}\n`);
  });
}

/** `hearth receipts export --out DIR [--format csv|zip|pdf|all]`. */
export async function receiptsExport(loaded: LoadedConfig, opts: { year?: string; patient?: string; ids?: string; out: string; format: string }): Promise<void> {
  const year = parseYear(opts.year);
  const ids = opts.ids?.split(",").map((s) => {
    if (!/^\d+$/.test(s.trim())) throw new InputError("BAD_IDS", `"${s}" is not a receipt id; e.g. --ids 3,7,12.`);
    return Number(s.trim());
  });
  mkdirSync(opts.out, { recursive: true, mode: 0o700 });
  const formats = (opts.format === "all" ? ["csv", "zip", "pdf"] : [opts.format]) as Array<"csv" | "zip" | "pdf">;
  const base = `hsa-${year ?? "all"}${opts.patient ? `-${opts.patient}` : ""}`;
  await withReceipts(loaded, async ({ service }) => {
    for (const format of formats) {
      const file = join(opts.out, `${base}.${format}`);
      const n = await exportReceipts(service, { ...(year !== undefined ? { year } : {}), ...(opts.patient ? { patient: opts.patient } : {}), ...(ids ? { ids } : {}), out: file, format });
      process.stdout.write(`${file}: ${n} receipt${n === 1 ? "" : "s"}\n`);
    }
  });
}

/** `hearth receipts pick AMOUNT`. */
export async function receiptsPick(loaded: LoadedConfig, amount: string, opts: { json?: boolean }): Promise<void> {
  await withReceipts(loaded, async ({ service }) => {
    process.stdout.write(`${pick(service, amount, opts)}\n`);
  });
}
