import type { LoadedConfig } from "../core/config.ts";
import { ConfigError } from "../core/errors.ts";
import { configureLogger, getLogger } from "../core/logger.ts";
import type { Transport } from "../core/transport.ts";
import { ConsoleTransport } from "../bots/console/consoleTransport.ts";
import type { HearthApp } from "../app/hearthApp.ts";
import { buildApp, type Runtime } from "../app/runtime.ts";
import { createProgressBar } from "./progressBar.ts";

const log = getLogger("cli");

async function build(loaded: LoadedConfig, signal: AbortSignal): Promise<Runtime> {
  const bar = createProgressBar("Downloading model", { bytes: true });
  try {
    return await buildApp(loaded, { onDownloadProgress: (p) => bar.update(p.downloadedBytes, p.totalBytes), signal });
  } finally {
    bar.stop();
  }
}

/** Shut down cleanly on SIGINT/SIGTERM (second signal: exit at once). */
function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    log.info({ signal: sig }, "shutting down");
    void stop().then(() => process.exit(0));
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

/** Pick the family member the console chats as. */
export function consolePerson(app: HearthApp, as?: string): string {
  if (as) {
    const p = app.people.byName(as);
    if (!p) throw new ConfigError(`There is no family member named "${as}" in the people list. Known: ${app.people.list.map((x) => x.name).join(", ")}.`);
    return p.identities.find((i) => i.startsWith("console:"))?.slice(8) ?? p.name;
  }
  const withConsole = app.people.list.find((p) => p.identities.some((i) => i.startsWith("console:")));
  const p = withConsole ?? app.people.list.find((x) => x.role === "admin") ?? app.people.list[0]!;
  return p.identities.find((i) => i.startsWith("console:"))?.slice(8) ?? p.name;
}

/** `hearth chat`: the terminal chat. */
export async function chatCommand(loaded: LoadedConfig, as?: string): Promise<void> {
  // Info-level logs would interleave with the conversation on the same terminal.
  if (process.stdin.isTTY && ["trace", "debug", "info"].includes(loaded.config.log.level)) configureLogger({ level: "warn" });
  const abort = new AbortController();
  const { app } = await build(loaded, abort.signal);
  const user = consolePerson(app, as);
  if (!app.people.byIdentity(`console:${user}`)) {
    throw new ConfigError(`"${user}" has no console identity. Add "console:${user}" to their identities in the people list.`);
  }
  await new Promise<void>((resolve) => {
    const transport = new ConsoleTransport({ user, botName: app.config.botName.toLowerCase(), onClose: () => resolve() });
    onShutdown(async () => {
      abort.abort();
      await app.dispose();
    });
    void app.attach(transport);
  });
  await app.dispose();
}

/** `hearth start`: every configured transport, or the console chat when none is configured. */
export async function startCommand(loaded: LoadedConfig): Promise<void> {
  const { config } = loaded;
  if (!config.matrix.enabled && !config.telegram.enabled) {
    log.info("no Matrix or Telegram account configured: starting the console chat");
    return chatCommand(loaded);
  }
  const abort = new AbortController();
  const { app, vault } = await build(loaded, abort.signal);
  const transports: Transport[] = [];
  const { createTransports } = await import("../app/transports.ts");
  try {
    transports.push(...(await createTransports(app, loaded, vault)));
  } catch (err) {
    await app.dispose();
    throw err;
  }
  for (const t of transports) await app.attach(t);
  log.info({ transports: transports.map((t) => t.kind) }, "Hearth is running");
  await new Promise<void>((resolve) =>
    onShutdown(async () => {
      abort.abort();
      await app.dispose();
      resolve();
    }),
  );
}
