import { userInfo } from "node:os";
import type { Logger } from "pino";
import { builtinCommands } from "../chat/builtinCommands.ts";
import { createChatHandler } from "../chat/chatHandler.ts";
import { CommandRegistry, type Command } from "../core/commands.ts";
import type { HearthConfig, LoadedConfig } from "../core/config.ts";
import type { Context, Middleware } from "../core/context.ts";
import { getLogger } from "../core/logger.ts";
import type { InboundMessage } from "../core/message.ts";
import { accessPolicy } from "../core/middleware/accessPolicy.ts";
import { chatQueue } from "../core/middleware/chatQueue.ts";
import { errorBoundary } from "../core/middleware/errorBoundary.ts";
import { router } from "../core/middleware/router.ts";
import { vaultRedaction, type SecretGuard } from "../core/middleware/vaultRedaction.ts";
import { ModelGateway, type RedactText } from "../core/modelGateway.ts";
import { People, type Person } from "../core/people.ts";
import { Pipeline } from "../core/pipeline.ts";
import type { Transport } from "../core/transport.ts";
import type { LlmEngine, ModelFunction } from "../llm/engine.ts";
import { ConversationStore } from "../memory/conversationStore.ts";
import { coreMigrations } from "../storage/coreMigrations.ts";
import { migrate, openDatabase, type Db } from "../storage/database.ts";

/** A capability that plugs into the app: commands, an image handler, tools for the model. */
export interface Feature {
  name: string;
  commands?: Command[];
  /** Handles image attachments (receipts). */
  image?: (ctx: Context) => Promise<void>;
  /** Tools offered to the model for this message's sender. */
  tools?: (ctx: Context) => Record<string, ModelFunction> | undefined;
  dispose?: () => Promise<void>;
}

/** What the app is built from. Tests inject engines and features directly. */
export interface HearthAppOptions {
  loaded: LoadedConfig;
  engine: LlmEngine;
  /** Secret guard for inbound text and the redactor for everything the model reads. */
  secrets?: { guard: SecretGuard; redact: RedactText };
  features?: Feature[];
  /** Features that need the app's database or people; built once those exist. */
  featureFactories?: Array<(app: { db: Db; config: HearthConfig; people: People }) => Feature>;
  log?: Logger;
}

/**
 * The people list, with a local owner added when none is configured so the console chat works
 * out of the box on a fresh install.
 */
export function effectivePeople(config: HearthConfig): People {
  const list: Person[] = config.people.map((p) => ({
    name: p.name,
    displayName: p.displayName ?? p.name[0]!.toUpperCase() + p.name.slice(1),
    role: p.role,
    identities: p.identities,
    home: p.home,
  }));
  if (list.length === 0) {
    const name = consoleOwnerName();
    list.push({
      name,
      displayName: name,
      role: "admin",
      identities: [`console:${name}`],
      home: { read: { areas: [], domains: [], entities: [] }, control: { areas: [], domains: [], entities: [] }, canConfirm: false },
    });
  }
  return new People(list);
}

/** The OS user's name, made into a valid person name. */
export function consoleOwnerName(): string {
  let name = "owner";
  try {
    name = userInfo().username;
  } catch {
    /* no passwd entry (containers): keep the default */
  }
  const clean = name.toLowerCase().replace(/[^a-z0-9_-]/g, "");
  return /^[a-z]/.test(clean) ? clean.slice(0, 32) : "owner";
}

/**
 * Hearth assembled: database, memory, the model gateway and the one pipeline every transport
 * feeds. Owns its resources; `dispose()` releases them in reverse order.
 */
export class HearthApp {
  readonly config: HearthConfig;
  readonly db: Db;
  readonly store: ConversationStore;
  readonly people: People;
  readonly commands = new CommandRegistry();
  readonly model: ModelGateway;
  readonly pipeline: Pipeline;
  readonly log: Logger;
  readonly #features: Feature[];
  readonly #engine: LlmEngine;
  readonly #transports: Transport[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #disposed = false;

  constructor(options: HearthAppOptions) {
    const { loaded } = options;
    this.config = loaded.config;
    this.log = options.log ?? getLogger("app");
    this.#engine = options.engine;
    this.db = openDatabase(loaded.paths.database);
    migrate(this.db, coreMigrations);
    this.store = new ConversationStore(this.db);
    this.people = effectivePeople(this.config);
    this.#features = [...(options.features ?? []), ...(options.featureFactories ?? []).map((f) => f(this))];
    const redact: RedactText = options.secrets?.redact ?? ((t) => t);
    this.model = new ModelGateway({ engine: this.#engine, redact: () => redact, traceFile: this.config.tracePrompts });

    for (const c of builtinCommands({ registry: this.commands, store: this.store, engine: () => this.#engine })) this.commands.add(c);
    for (const f of this.#features) for (const c of f.commands ?? []) this.commands.add(c);

    const imageFeature = this.#features.find((f) => f.image);
    const toolFeatures = this.#features.filter((f) => f.tools);
    const chat = createChatHandler({
      model: this.model,
      store: this.store,
      botName: this.config.botName,
      extraSystemPrompt: this.config.llm.systemPrompt,
      historyBudget: this.config.memory.historyBudget,
      overflowPolicy: this.config.memory.overflowPolicy,
      maxTokens: this.config.llm.maxTokens,
      temperature: this.config.llm.temperature,
      streaming: (transport) =>
        transport === "matrix"
          ? { stream: this.config.matrix.streamEdits, intervalMs: this.config.matrix.editIntervalMs }
          : transport === "telegram"
            ? { stream: this.config.telegram.streamEdits, intervalMs: 1200 }
            : { stream: true, intervalMs: 0 },
      tools: toolFeatures.length
        ? (ctx) => {
            const all: Record<string, ModelFunction> = {};
            for (const f of toolFeatures) Object.assign(all, f.tools?.(ctx) ?? {});
            return Object.keys(all).length ? all : undefined;
          }
        : undefined,
    });
    const middlewares: Middleware[] = [
      errorBoundary(),
      accessPolicy({
        people: this.people,
        botNames: [this.config.botName.toLowerCase()],
        groupMode: this.config.chat.groupMode,
        rooms: this.config.chat.rooms,
      }),
      vaultRedaction(() => options.secrets?.guard),
      chatQueue({ limit: this.config.chat.queueLimit }),
      router({
        commands: this.commands,
        chat,
        maxMessageChars: this.config.chat.maxMessageChars,
        ...(imageFeature?.image ? { image: imageFeature.image } : {}),
      }),
    ];
    this.pipeline = new Pipeline(middlewares, this.log);
  }

  /** The engine behind the gateway. */
  get engine(): LlmEngine {
    return this.#engine;
  }

  /** Feed one message through the pipeline (tracked so shutdown can wait for it). */
  handle(msg: InboundMessage, transport: Transport): Promise<void> {
    const p = this.pipeline.handle(msg, transport);
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Connect a transport to the pipeline. */
  async attach(transport: Transport): Promise<void> {
    this.#transports.push(transport);
    await transport.start((msg) => this.handle(msg, transport));
    this.log.info({ transport: transport.kind }, "transport started");
  }

  /** Stop transports, let in-flight messages finish (bounded), release everything. */
  async dispose(graceMs = 10_000): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of this.#transports) await t.dispose().catch((err: unknown) => this.log.warn({ err: String(err) }, "transport dispose failed"));
    const drained = Promise.allSettled([...this.#inFlight]);
    const timer = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([drained, timer]);
    this.pipeline.abort();
    // Reverse order: features set up later (receipts, home) may still use earlier ones (the vault).
    for (const f of [...this.#features].reverse()) await f.dispose?.().catch(() => undefined);
    await this.#engine.dispose().catch(() => undefined);
    this.db.close();
  }
}
