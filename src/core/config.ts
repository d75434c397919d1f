import { existsSync, readFileSync } from "node:fs";
import { homedir, platform } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "./errors.ts";

/**
 * Hearth's whole configuration: one schema, and the only file that reads `process.env`.
 *
 * Sources, later ones winning: the schema defaults (mirrored, with comments, in
 * `config/default.yaml`), the user's config file, then environment overrides. Secrets are never
 * configuration values: options such as `telegram.tokenHandle` name a vault entry.
 */

const handleName = z.string().regex(/^[a-z0-9_]{1,64}$/, "a vault secret name: lowercase letters, digits and _");

const homeScope = z
  .strictObject({
    /** Home Assistant area ids (or "*"). */
    areas: z.array(z.string()).default([]),
    /** Entity domains such as "light" (or "*"). */
    domains: z.array(z.string()).default([]),
    /** Entity ids such as "light.kitchen" (or "*"). */
    entities: z.array(z.string()).default([]),
  })
  .default({ areas: [], domains: [], entities: [] });

const person = z.strictObject({
  /** Short lowercase name; used as the receipts patient. */
  name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "a short lowercase name like ann"),
  /** Name shown in replies. Defaults to `name`. */
  displayName: z.string().optional(),
  /** admin: vault and audit; adult/child: only permissions differ. */
  role: z.enum(["admin", "adult", "child"]).default("adult"),
  /** Platform-qualified ids: "matrix:@ann:example.org", "telegram:12345", "console:ann". */
  identities: z.array(z.string().regex(/^(matrix|telegram|console):.+/, 'an id like "telegram:12345"')).default([]),
  home: z
    .strictObject({
      read: homeScope,
      control: homeScope,
      /** May confirm sensitive actions (locks, alarms, garage doors). */
      canConfirm: z.boolean().default(false),
    })
    .default({ read: { areas: [], domains: [], entities: [] }, control: { areas: [], domains: [], entities: [] }, canConfirm: false }),
});

/** The configuration schema. Every option has a default; see `config/default.yaml` for docs. */
export const configSchema = z.strictObject({
  /** Data folder (database, vault, encrypted images, models). null = platform default or HEARTH_HOME. */
  dataDir: z.string().nullable().default(null),
  log: z
    .strictObject({
      /** trace, debug, info, warn, error, fatal or silent. */
      level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
    })
    .prefault({}),
  /** Name the bot answers to in group chats (besides platform mentions). */
  botName: z.string().min(1).default("Hearth"),
  llm: z
    .strictObject({
      /** "llama.cpp" runs the model in-process; "openai" talks to an OpenAI-compatible server. */
      backend: z.enum(["llama.cpp", "openai"]).default("llama.cpp"),
      /** GGUF file path, or an hf: URI downloaded on first run into <dataDir>/models. */
      model: z.string().min(1).default("hf:bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M"),
      /** "auto" picks CUDA, Vulkan or Metal when present, else CPU; false forces CPU. */
      gpu: z.union([z.enum(["auto", "cuda", "vulkan", "metal"]), z.literal(false)], { error: 'one of "auto", "cuda", "vulkan", "metal" or false' }).default("auto"),
      /** Layers to offload: "auto" fits what VRAM allows, "max" all, or a number. */
      gpuLayers: z.union([z.enum(["auto", "max"]), z.number().int().min(0)], { error: '"auto", "max" or a whole number of layers' }).default("auto"),
      /** Context window per chat in tokens, or "auto" (largest that fits). */
      contextSize: z.union([z.literal("auto"), z.number().int().min(256)], { error: 'a number of tokens (256 or more) or "auto"' }).default(8192),
      /** Chats whose evaluated context is kept warm at once. */
      warmChats: z.number().int().min(1).max(64).default(4),
      /** Share of the model per GPU for multi-GPU servers, e.g. [1, 1]; [] = let llama.cpp decide. */
      tensorSplit: z.array(z.number().min(0)).default([]),
      /** CPU threads for generation; 0 = node-llama-cpp's default. */
      threads: z.number().int().min(0).default(0),
      /** Sampling temperature. */
      temperature: z.number().min(0).max(2).default(0.7),
      /** Longest answer in tokens. */
      maxTokens: z.number().int().min(1).default(1024),
      /** Extra instructions appended to Hearth's built-in system prompt. */
      systemPrompt: z.string().default(""),
      openai: z
        .strictObject({
          /** Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1. */
          baseUrl: z.string().url().default("http://127.0.0.1:8080/v1"),
          /** Model name the server expects. */
          model: z.string().default("default"),
          /** Vault handle of the API key, or null when the server needs none. */
          apiKeyHandle: handleName.nullable().default(null),
        })
        .prefault({}),
    })
    .prefault({}),
  memory: z
    .strictObject({
      /** Share of the context window history may fill before older turns are summarized/trimmed. */
      historyBudget: z.number().min(0.1).max(0.9).default(0.6),
      /** "summarize" folds old turns into a summary with the model; "trim" drops them. */
      overflowPolicy: z.enum(["summarize", "trim"]).default("trim"),
    })
    .prefault({}),
  chat: z
    .strictObject({
      /** Messages waiting per chat before new ones get a "busy" reply. */
      queueLimit: z.number().int().min(1).default(8),
      /** Longest message accepted, in characters. */
      maxMessageChars: z.number().int().min(100).default(16000),
      /**
       * When Hearth answers in group chats: "quiet" only to commands; "mention" when named,
       * @-mentioned, replied to or given a command; "chatty" to every message from family.
       */
      groupMode: z.enum(["quiet", "mention", "chatty"]).default("mention"),
      /** Per-chat overrides of groupMode, keyed by chat id, e.g. { "matrix:!abc:example.org": chatty }. */
      rooms: z.record(z.string().regex(/^(matrix|telegram|console):.+/, 'a chat id like "matrix:!room:example.org"'), z.enum(["quiet", "mention", "chatty"])).default({}),
    })
    .prefault({}),
  /** Append exactly what the model is sent to this file (null = off). HEARTH_TRACE_PROMPTS wins. */
  tracePrompts: z.string().nullable().default(null),
  vault: z
    .strictObject({
      /** Try the OS keychain (Secret Service / Keychain / Credential Manager) first. */
      keychain: z.boolean().default(true),
      /** File holding the vault passphrase (HEARTH_VAULT_PASSPHRASE_FILE wins). */
      passphraseFile: z.string().nullable().default(null),
      /** Owner-only file holding a 32-byte master key (HEARTH_VAULT_KEY_FILE wins). */
      keyFile: z.string().nullable().default(null),
    })
    .prefault({}),
  receipts: z
    .strictObject({
      /** Accept receipt photos at all. */
      enabled: z.boolean().default(true),
      /** Date order for ambiguous dates: "MDY" (US) or "DMY". */
      dateOrder: z.enum(["MDY", "DMY"]).default("MDY"),
      /** Currency assumed when a receipt shows none (ISO 4217). */
      currency: z.string().length(3).default("USD"),
      /** Largest upload accepted, in megabytes. */
      maxImageMB: z.number().min(1).max(200).default(25),
      /** Largest image accepted, in megapixels. */
      maxMegapixels: z.number().min(1).max(400).default(60),
      /** OCR workers; 0 = one per core, at most 4. */
      ocrWorkers: z.number().int().min(0).max(16).default(0),
    })
    .prefault({}),
  matrix: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Homeserver base URL, e.g. https://matrix.example.org. */
      homeserverUrl: z.string().url().nullable().default(null),
      /** The bot's full user id, e.g. @hearth:example.org. */
      userId: z.string().regex(/^@.+:.+$/).nullable().default(null),
      /** Vault handle of the access token written by `hearth matrix login`. */
      accessTokenHandle: handleName.default("matrix_token"),
      /** Only invites from these user ids are accepted. */
      allowedInviters: z.array(z.string()).default([]),
      /** Stream long answers by editing the reply (m.replace). */
      streamEdits: z.boolean().default(true),
      /** Minimum milliseconds between streamed edits. */
      editIntervalMs: z.number().int().min(250).default(1500),
      /** Server-side backup of the bot's room keys; its recovery key is kept in the vault. */
      keyBackup: z.boolean().default(false),
    })
    .prefault({}),
  telegram: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Vault handle of the BotFather token. */
      tokenHandle: handleName.default("telegram_token"),
      /** Bot API root; point at a local Bot API server if you run one. */
      apiRoot: z.string().url().default("https://api.telegram.org"),
      /** "polling" needs no open port; "webhook" needs a reverse proxy. */
      mode: z.enum(["polling", "webhook"]).default("polling"),
      /** Public HTTPS URL for webhook mode. */
      webhookUrl: z.string().url().nullable().default(null),
      /** Local port for webhook mode. */
      webhookPort: z.number().int().min(1).max(65535).default(8443),
      /** Stream long answers by editing the reply. */
      streamEdits: z.boolean().default(true),
      /** Telegram is not end-to-end encrypted: set false to keep receipts off it. */
      allowReceipts: z.boolean().default(true),
      /** Set false to refuse /vault commands on Telegram. */
      allowVault: z.boolean().default(false),
    })
    .prefault({}),
  home: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Home Assistant base URL, e.g. http://homeassistant.local:8123. */
      url: z.string().url().nullable().default(null),
      /** Vault handle of the long-lived access token (allowed host: the HA host). */
      tokenHandle: handleName.default("ha_token"),
      /** Per-call timeout. */
      timeoutMs: z.number().int().min(500).default(10000),
      /** Seconds a sensitive action waits for confirmation. */
      confirmSeconds: z.number().int().min(10).default(120),
      /** Thermostat set points outside this range (°F) need confirmation. */
      climateSafeRange: z.tuple([z.number(), z.number()]).default([60, 78]),
    })
    .prefault({}),
  /** Family members. Unknown senders are refused. */
  people: z.array(person).default([]),
});

/** The upload limit in bytes (`receipts.maxImageMB`), shared by every transport and the OCR checks. */
export function maxImageBytes(config: HearthConfig): number {
  return config.receipts.maxImageMB * 1024 * 1024;
}

/** Validated configuration with every default filled in. */
export type HearthConfig = z.infer<typeof configSchema>;

/** Where things live on disk. */
export interface HearthPaths {
  dataDir: string;
  configFile: string;
  database: string;
  vault: string;
  images: string;
  models: string;
  matrixStore: string;
}

/** Loaded configuration plus where it came from. */
export interface LoadedConfig {
  config: HearthConfig;
  paths: HearthPaths;
  /** The user config file that was read, or null when none exists. */
  sourceFile: string | null;
  /** Settings that came from the environment (names only; for `hearth doctor`). */
  envOverrides: string[];
  /** Vault master-key sources named by the environment. */
  vaultEnv: { passphraseFile: string | null; keyFile: string | null; passphrase: string | null };
}

/** Folder of the shipped `config/default.yaml`. */
export const shippedConfigDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../config");

function platformDataDir(env: NodeJS.ProcessEnv): string {
  const home = homedir();
  switch (platform()) {
    case "darwin":
      return join(home, "Library", "Application Support", "Hearth");
    case "win32":
      return join(env["APPDATA"] ?? join(home, "AppData", "Roaming"), "Hearth");
    default:
      return join(env["XDG_DATA_HOME"] || join(home, ".local", "share"), "hearth");
  }
}

function platformConfigFile(env: NodeJS.ProcessEnv): string {
  const home = homedir();
  switch (platform()) {
    case "darwin":
      return join(home, "Library", "Application Support", "Hearth", "config.yaml");
    case "win32":
      return join(env["APPDATA"] ?? join(home, "AppData", "Roaming"), "Hearth", "config.yaml");
    default:
      return join(env["XDG_CONFIG_HOME"] || join(home, ".config"), "hearth", "config.yaml");
  }
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`Cannot read the config file ${file} (${(err as NodeJS.ErrnoException).code ?? "error"}). Check the path and its permissions.`, { cause: err });
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    const where = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    throw new ConfigError(
      `The config file ${file} is not valid YAML${where ? ` (line ${where.line}, column ${where.col})` : ""}: ${(err as Error).message.split("\n")[0]}`,
      { cause: err },
    );
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(cur[key])) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/** Environment variables Hearth understands, mapped to config keys. */
const ENV_KEYS: Record<string, { path: string[]; parse?: (v: string) => unknown }> = {
  HEARTH_MODEL: { path: ["llm", "model"] },
  HEARTH_LLM_BACKEND: { path: ["llm", "backend"] },
  HEARTH_CONTEXT_SIZE: { path: ["llm", "contextSize"], parse: (v) => (v === "auto" ? v : Number(v)) },
  HEARTH_GPU: { path: ["llm", "gpu"], parse: (v) => (v === "false" || v === "cpu" ? false : v) },
  HEARTH_LOG_LEVEL: { path: ["log", "level"] },
  HEARTH_TRACE_PROMPTS: { path: ["tracePrompts"] },
  HEARTH_OPENAI_BASE_URL: { path: ["llm", "openai", "baseUrl"] },
};

function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function getPath(obj: unknown, path: PropertyKey[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/**
 * Validate raw configuration data. Errors name the key, the bad value and the fix.
 * @param origin Where the data came from, for the message.
 */
export function parseConfig(raw: unknown, origin = "the configuration"): HearthConfig {
  const result = configSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.slice(0, 5).map((issue) => {
    const key = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      const names = issue.keys.map((k) => (key ? `${key}.${k}` : k));
      return `  unknown option${names.length > 1 ? "s" : ""} ${names.join(", ")} — check the spelling or remove ${names.length > 1 ? "them" : "it"}`;
    }
    return `  ${key || "(top level)"}: got ${describeValue(getPath(raw, issue.path))} — expected ${issue.message.replace(/^Invalid (input|option): expected /, "")}`;
  });
  throw new ConfigError(
    `Invalid setting${lines.length > 1 ? "s" : ""} in ${origin}:\n${lines.join("\n")}\nSee config/default.yaml for every option with its default.`,
  );
}

/** Options for {@link loadConfig}; tests pass their own env. */
export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Explicit config file (CLI --config); overrides HEARTH_CONFIG. */
  configFile?: string;
  /** Explicit data folder (CLI --home); overrides HEARTH_HOME. */
  home?: string;
}

/** Read, merge and validate configuration from files and the environment. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env), ...(options.home ? { HEARTH_HOME: options.home } : {}) };
  const explicit = options.configFile ?? env["HEARTH_CONFIG"];
  const configFile = resolve(explicit ?? platformConfigFile(env));
  let raw: unknown = {};
  let sourceFile: string | null = null;
  if (existsSync(configFile)) {
    raw = readYaml(configFile);
    sourceFile = configFile;
    if (!isPlainObject(raw)) throw new ConfigError(`The config file ${configFile} must be a YAML mapping of keys to values (see config/default.yaml).`);
  } else if (explicit) {
    throw new ConfigError(`The config file ${configFile} does not exist. Create it (copy config/default.yaml as a start) or unset HEARTH_CONFIG / --config.`);
  }
  const merged = deepMerge({}, raw) as Record<string, unknown>;
  const envOverrides: string[] = [];
  for (const [name, spec] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v === undefined || v === "") continue;
    setPath(merged, spec.path, spec.parse ? spec.parse(v) : v);
    envOverrides.push(name);
  }
  const config = parseConfig(merged, sourceFile ? `${sourceFile} (or the environment)` : "the environment");
  const dataDir = resolve(env["HEARTH_HOME"] || config.dataDir || platformDataDir(env));
  if (env["HEARTH_HOME"]) envOverrides.push("HEARTH_HOME");
  const paths: HearthPaths = {
    dataDir,
    configFile,
    database: join(dataDir, "hearth.db"),
    vault: join(dataDir, "vault.json"),
    images: join(dataDir, "receipts"),
    models: join(dataDir, "models"),
    matrixStore: join(dataDir, "matrix"),
  };
  const vaultEnv = {
    passphraseFile: env["HEARTH_VAULT_PASSPHRASE_FILE"] || config.vault.passphraseFile,
    keyFile: env["HEARTH_VAULT_KEY_FILE"] || config.vault.keyFile,
    // A passphrase in the environment is accepted for containers/tests but discouraged (visible in /proc).
    passphrase: env["HEARTH_VAULT_PASSPHRASE"] || null,
  };
  for (const name of ["HEARTH_VAULT_PASSPHRASE_FILE", "HEARTH_VAULT_KEY_FILE", "HEARTH_VAULT_PASSPHRASE"]) if (env[name]) envOverrides.push(name);
  return { config, paths, sourceFile, envOverrides, vaultEnv };
}

/** True when running under CI (the only other process.env read, for non-interactive behaviour). */
export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY) && !process.env["CI"];
}
