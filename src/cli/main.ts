import { Command, CommanderError, Option } from "commander";
import { HearthError } from "../core/errors.ts";
import { configureLogger, redactForLog } from "../core/logger.ts";
import { loadConfig, type LoadedConfig } from "../core/config.ts";

/**
 * The `hearth` command. Each subcommand lives in its own module and is loaded only when used, so
 * `hearth --help` does not pay for loading the model engine or OCR.
 */

const program = new Command();

function load(): LoadedConfig {
  const opts = program.opts<{ config?: string; home?: string }>();
  const loaded = loadConfig({ ...(opts.config ? { configFile: opts.config } : {}), ...(opts.home ? { home: opts.home } : {}) });
  configureLogger({ level: loaded.config.log.level });
  return loaded;
}

program
  .name("hearth")
  .description("Hearth: a privacy-first family assistant that runs entirely on your home server.")
  .version("0.1.0")
  .option("-c, --config <file>", "config file (default: ~/.config/hearth/config.yaml, or HEARTH_CONFIG)")
  .option("--home <dir>", "data folder for database, vault and images (default: HEARTH_HOME or the platform's data folder)")
  .showHelpAfterError("(run hearth --help for usage)");

program
  .command("start")
  .description("Run Hearth on the configured transports (Matrix, Telegram); the console chat when none is configured")
  .action(async () => (await import("./startCommand.ts")).startCommand(load()));

program
  .command("chat")
  .description("Chat with Hearth in this terminal as a family member (/image PATH sends a photo)")
  .option("--as <name>", "family member to chat as (default: the first person with a console identity)")
  .action(async (opts: { as?: string }) => (await import("./startCommand.ts")).chatCommand(load(), opts.as));

program
  .command("doctor")
  .description("Check the machine: GPUs and VRAM, whether the model fits, keychain, configuration")
  .option("--json", "machine-readable output")
  .action(async (opts: { json?: boolean }) => (await import("./doctorCommand.ts")).doctorCommand(load(), opts));

program
  .command("model")
  .description("Download the configured model now (with a progress bar) instead of on first start")
  .command("pull")
  .action(async () => (await import("./modelCommand.ts")).modelPullCommand(load()));

const vault = program.command("vault").description("Manage secrets; the model only ever sees their {{secret:NAME}} handles");
vault
  .command("add <name>")
  .description("Store a secret (value from a no-echo prompt, or stdin when piped)")
  .option("--allow-host <host...>", "hosts the secret may be sent to (e.g. homeassistant.local:8123)")
  .option("--case-insensitive", "also redact the value in any letter case")
  .action(async (name: string, opts: { allowHost?: string[]; caseInsensitive?: boolean }) =>
    (await import("./vaultCli.ts")).vaultAdd(load(), name, opts),
  );
vault
  .command("list")
  .description("List secrets: names, dates, allowed hosts (never values)")
  .option("--json", "machine-readable output")
  .action(async (opts: { json?: boolean }) => (await import("./vaultCli.ts")).vaultList(load(), opts));
vault
  .command("rm <name>")
  .description("Delete a secret")
  .action(async (name: string) => (await import("./vaultCli.ts")).vaultRemove(load(), name));
vault
  .command("rotate-key")
  .description("Re-wrap the vault under a new master key source")
  .addOption(new Option("--to <source>", "new master key source").choices(["keychain", "passphrase", "key-file"]))
  .option("--key-file <file>", "with --to key-file: the new key file (created owner-only if missing)")
  .option("--passphrase-file <file>", "with --to passphrase: read the new passphrase from this file")
  .option("--reencrypt", "also re-encrypt every secret under a fresh data key")
  .action(async (opts: { to?: string; keyFile?: string; passphraseFile?: string; reencrypt?: boolean }) =>
    (await import("./vaultCli.ts")).vaultRotate(load(), opts),
  );

const receipts = program.command("receipts").description("HSA receipts: file photos, list, export claim packets");
receipts
  .command("add <files...>")
  .description("OCR and file receipt images (JPEG, PNG, WebP)")
  .option("--patient <name>", "family member the receipts are for")
  .option("--force", "file even when a receipt with the same provider, date and amount exists")
  .option("--json", "machine-readable output")
  .action(async (files: string[], opts: { patient?: string; json?: boolean; force?: boolean }) =>
    (await import("./receiptsCli.ts")).receiptsAdd(load(), files, opts),
  );
receipts
  .command("list")
  .description("List filed receipts")
  .option("--year <year>", "only this year")
  .option("--patient <name>", "only this family member")
  .option("--json", "machine-readable output")
  .action(async (opts: { year?: string; patient?: string; json?: boolean }) => (await import("./receiptsCli.ts")).receiptsList(load(), opts));
receipts
  .command("export")
  .description("Export receipts for a claim: csv, zip of images, or a PDF claim packet")
  .option("--year <year>", "only this year")
  .option("--patient <name>", "only this family member")
  .option("--ids <ids>", "only these receipt ids, comma-separated")
  .requiredOption("--out <dir>", "folder to write the export into")
  .addOption(new Option("--format <format>", "what to write").choices(["csv", "zip", "pdf", "all"]).default("all"))
  .action(async (opts: { year?: string; patient?: string; ids?: string; out: string; format: string }) =>
    (await import("./receiptsCli.ts")).receiptsExport(load(), opts),
  );
receipts
  .command("pick <amount>")
  .description("Pick unclaimed receipts adding up as close as possible to AMOUNT (e.g. 250.00)")
  .option("--json", "machine-readable output")
  .action(async (amount: string, opts: { json?: boolean }) => (await import("./receiptsCli.ts")).receiptsPick(load(), amount, opts));

program
  .command("matrix")
  .description("Matrix account setup")
  .command("login")
  .description("Log the bot's Matrix account in once and keep its token and device in the vault")
  .option("--homeserver <url>", "homeserver URL (default: matrix.homeserverUrl)")
  .option("--user <id>", "bot user id (default: matrix.userId)")
  .action(async (opts: { homeserver?: string; user?: string }) => (await import("./matrixCli.ts")).matrixLogin(load(), opts));

/** Print an error the way users should see it and exit non-zero. */
function fail(err: unknown): never {
  if (err instanceof HearthError) {
    process.stderr.write(`hearth: ${err.userMessage}\n`);
    process.exit(2);
  }
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`hearth: unexpected error: ${redactForLog(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
  process.exit(1);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
