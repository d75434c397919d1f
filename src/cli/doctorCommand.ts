import { existsSync } from "node:fs";
import { access, constants } from "node:fs/promises";
import type { LoadedConfig } from "../core/config.ts";
import { HearthError } from "../core/errors.ts";
import { gpuReport, type GpuReport } from "../llm/gpuReport.ts";
import { isRemoteModelSource } from "../llm/modelSource.ts";
import { KeychainMasterKey } from "../vault/masterKeyKeychain.ts";

/** One line of the doctor's report. */
interface Check {
  name: string;
  status: "ok" | "warn" | "fail" | "info";
  detail: string;
}

const gib = (b: number) => `${(b / 1024 ** 3).toFixed(1)} GiB`;

/** Where the configured model would be on disk, if we can tell without downloading. */
async function localModelPath(loaded: LoadedConfig): Promise<string | undefined> {
  const src = loaded.config.llm.model;
  if (!isRemoteModelSource(src)) return src;
  const { resolveModelSource } = await import("../llm/modelSource.ts");
  try {
    return await resolveModelSource(src, { modelsDir: loaded.paths.models, noDownload: true });
  } catch {
    return undefined;
  }
}

/** Gather every check (exported for tests). */
export async function runDoctor(loaded: LoadedConfig): Promise<{ checks: Check[]; gpu?: GpuReport }> {
  const { config, paths } = loaded;
  const checks: Check[] = [];
  checks.push({ name: "node", status: "ok", detail: `Node ${process.version} on ${process.platform}/${process.arch}` });
  checks.push({ name: "config", status: "info", detail: loaded.sourceFile ? `from ${loaded.sourceFile}` : `defaults (no ${paths.configFile})` });
  if (loaded.envOverrides.length) checks.push({ name: "environment", status: "info", detail: `overrides: ${loaded.envOverrides.join(", ")}` });
  const dataOk = await access(existsSync(paths.dataDir) ? paths.dataDir : pathsParent(paths.dataDir), constants.W_OK).then(
    () => true,
    () => false,
  );
  checks.push({ name: "data folder", status: dataOk ? "ok" : "fail", detail: `${paths.dataDir}${dataOk ? "" : " is not writable: fix its permissions or set HEARTH_HOME"}` });

  let gpu: GpuReport | undefined;
  if (config.llm.backend === "llama.cpp") {
    const modelPath = await localModelPath(loaded);
    if (!modelPath) checks.push({ name: "model", status: "warn", detail: `${config.llm.model} is not downloaded yet: run \`hearth model pull\` (or it downloads on first start)` });
    try {
      gpu = await gpuReport({
        gpu: config.llm.gpu,
        ...(modelPath ? { modelPath } : {}),
        contextSize: config.llm.contextSize === "auto" ? 8192 : config.llm.contextSize,
        maxSequences: config.llm.warmChats,
        gpuLayers: config.llm.gpuLayers,
      });
      checks.push({
        name: "compute",
        status: "ok",
        detail: `${gpu.backend.toUpperCase()}${gpu.deviceNames.length ? ` (${gpu.deviceNames.join(", ")})` : ""}; ${gpu.cpuMathCores} CPU math cores; llama.cpp ${gpu.llamaCppRelease}`,
      });
      if (gpu.vram) checks.push({ name: "VRAM", status: "info", detail: `${gib(gpu.vram.freeBytes)} free of ${gib(gpu.vram.totalBytes)}` });
      checks.push({ name: "RAM", status: "info", detail: `${gib(gpu.ram.freeBytes)} free of ${gib(gpu.ram.totalBytes)}` });
      if (config.llm.tensorSplit.length) checks.push({ name: "multi-GPU", status: "warn", detail: "tensorSplit is set but node-llama-cpp 3.22 cannot pass it on; llama.cpp splits layers by free VRAM (pin cards with CUDA_VISIBLE_DEVICES)" });
      const m = gpu.model;
      if (m) {
        const fits = m.fitsVram && m.fitsRam;
        checks.push({
          name: "model fit",
          status: fits ? "ok" : "fail",
          detail:
            `${m.path} (${gib(m.fileBytes)}, ${m.architecture ?? "?"}, ${m.totalLayers} layers): ${m.gpuLayers} on GPU, context ${m.contextSize} × ${m.sequences} chats; ` +
            `needs ~${gib(m.estimate.modelVramBytes + m.estimate.contextVramBytes)} VRAM + ~${gib(m.estimate.modelRamBytes + m.estimate.contextRamBytes)} RAM` +
            (m.advice.length ? `. ${m.advice.join(" ")}` : ""),
        });
        for (const w of m.warnings) checks.push({ name: "model", status: "warn", detail: w });
      }
    } catch (err) {
      checks.push({ name: "model", status: "fail", detail: err instanceof HearthError ? err.userMessage : String(err) });
    }
  } else {
    // Only the model list is asked for, without the API key: enough to tell "up" from "down".
    const base = config.llm.openai.baseUrl.replace(/\/+$/, "");
    const reach = await fetch(`${base}/models`, { signal: AbortSignal.timeout(3000) }).then(
      (r) => (r.ok || r.status === 401 || r.status === 403 ? "answering" : `answered HTTP ${r.status}`),
      (err: unknown) => `not reachable (${(err as Error).name === "TimeoutError" ? "no answer in 3 s" : ((err as { cause?: { code?: string } }).cause?.code ?? "error")})`,
    );
    checks.push({
      name: "model",
      status: reach === "answering" ? "ok" : "fail",
      detail: `OpenAI-compatible server at ${base} (model "${config.llm.openai.model}") is ${reach}${reach === "answering" ? "" : ": start it or fix llm.openai.baseUrl"}`,
    });
  }

  // Keychain: probing asks the Secret Service for a dummy entry; it never creates anything.
  try {
    await new KeychainMasterKey().probe();
    checks.push({ name: "keychain", status: "ok", detail: "OS keychain available for the vault's master key" });
  } catch (err) {
    const configured = loaded.vaultEnv.keyFile ?? loaded.vaultEnv.passphraseFile;
    checks.push({
      name: "keychain",
      status: configured ? "info" : "warn",
      detail: configured
        ? `not available; the vault uses ${loaded.vaultEnv.keyFile ? `the key file ${loaded.vaultEnv.keyFile}` : `the passphrase file ${loaded.vaultEnv.passphraseFile}`}`
        : err instanceof HearthError
          ? err.userMessage
          : String(err),
    });
  }
  checks.push({ name: "vault", status: existsSync(paths.vault) ? "ok" : "info", detail: existsSync(paths.vault) ? paths.vault : `none yet (created by the first \`hearth vault add\`)` });
  const transports = [config.matrix.enabled && `Matrix (${config.matrix.userId ?? "no userId!"} on ${config.matrix.homeserverUrl ?? "no homeserverUrl!"})`, config.telegram.enabled && `Telegram (${config.telegram.mode})`].filter(Boolean);
  checks.push({ name: "transports", status: "info", detail: transports.length ? transports.join(", ") : "console only (enable matrix or telegram in the config)" });
  checks.push({ name: "receipts", status: "info", detail: config.receipts.enabled ? `on, dates ${config.receipts.dateOrder}, ${config.receipts.currency}` : "off" });
  checks.push({ name: "home assistant", status: "info", detail: config.home.enabled ? `${config.home.url}, token {{secret:${config.home.tokenHandle}}}` : "off" });
  checks.push({ name: "people", status: config.people.length ? "ok" : "warn", detail: config.people.length ? config.people.map((p) => `${p.name} (${p.role})`).join(", ") : "none configured: only the local console user can talk to Hearth" });
  return { checks, ...(gpu ? { gpu } : {}) };
}

function pathsParent(p: string): string {
  let cur = p;
  while (!existsSync(cur)) {
    const up = cur.replace(/[\\/][^\\/]+$/, "");
    if (up === cur || up === "") return "/";
    cur = up;
  }
  return cur;
}

/** `hearth doctor [--json]`. */
export async function doctorCommand(loaded: LoadedConfig, opts: { json?: boolean }): Promise<void> {
  const report = await runDoctor(loaded);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const mark = { ok: "✔", warn: "!", fail: "✘", info: "·" } as const;
    const width = Math.max(...report.checks.map((c) => c.name.length));
    for (const c of report.checks) process.stdout.write(`${mark[c.status]} ${c.name.padEnd(width)}  ${c.detail}\n`);
  }
  if (report.checks.some((c) => c.status === "fail")) process.exitCode = 1;
}
