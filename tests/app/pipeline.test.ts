import { afterEach, describe, expect, it } from "vitest";
import { HearthApp } from "../../src/app/hearthApp.ts";
import type { Context } from "../../src/core/context.ts";
import { HearthError } from "../../src/core/errors.ts";
import { ScriptedEngine } from "../helpers/scriptedEngine.ts";
import { MemoryTransport, inbound } from "../helpers/memoryTransport.ts";
import { family, tempHome } from "../helpers/tempHome.ts";

const homes: Array<{ cleanup(): void }> = [];
const apps: HearthApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.dispose(100);
  for (const h of homes.splice(0)) h.cleanup();
});

function makeApp(engine = new ScriptedEngine(), config: Record<string, unknown> = {}, features: ConstructorParameters<typeof HearthApp>[0]["features"] = []) {
  const home = tempHome({ people: family, log: { level: "silent" }, ...config });
  homes.push(home);
  const app = new HearthApp({ loaded: home, engine, features });
  apps.push(app);
  return { app, engine, home, t: new MemoryTransport() };
}

describe("pipeline", () => {
  it("answers a direct message through the model and remembers it", async () => {
    const { app, engine, t } = makeApp();
    await app.handle(inbound({ text: "hello there", sender: { id: "console:ann", displayName: "Ann" } }), t);
    expect(t.texts()).toEqual(["echo: hello there"]);
    expect(engine.requests).toHaveLength(1);
    expect(app.store.count("test:chat")).toBe(2);
  });

  it("stays silent in a group unless mentioned, replied to, named or commanded", async () => {
    const { app, engine, t } = makeApp();
    const ann = { id: "console:ann", displayName: "Ann" };
    await app.handle(inbound({ text: "what's for dinner", chatType: "group", sender: ann }), t);
    expect(t.sent).toHaveLength(0);
    expect(engine.requests).toHaveLength(0);
    await app.handle(inbound({ text: "hey there", chatType: "group", sender: ann, mentionsBot: true }), t);
    await app.handle(inbound({ text: "Hearth, what time is it?", chatType: "group", sender: ann }), t);
    await app.handle(inbound({ text: "and this?", chatType: "group", sender: ann, replyToBot: true }), t);
    await app.handle(inbound({ text: "/whoami", chatType: "group", sender: ann }), t);
    expect(engine.requests).toHaveLength(3);
    expect(t.sent).toHaveLength(4);
    // group turns carry the speaker's name so the model can tell people apart
    expect(engine.requests[0]!.history.at(-1)!.text).toBe("Ann: hey there");
  });

  it("group chattiness: quiet rooms answer only commands, chatty rooms everything", async () => {
    const { app, engine, t } = makeApp(new ScriptedEngine(), { chat: { groupMode: "quiet", rooms: { "console:kitchen": "chatty" } } });
    const ann = { id: "console:ann", displayName: "Ann" };
    await app.handle(inbound({ chatId: "console:hall", text: "hey Hearth", chatType: "group", sender: ann, mentionsBot: true }), t);
    expect(engine.requests).toHaveLength(0);
    await app.handle(inbound({ chatId: "console:hall", text: "/whoami", chatType: "group", sender: ann }), t);
    expect(t.texts("console:hall")).toHaveLength(1);
    await app.handle(inbound({ chatId: "console:kitchen", text: "we're out of milk", chatType: "group", sender: ann }), t);
    expect(engine.requests).toHaveLength(1);
    expect(t.texts("console:kitchen")).toEqual(["echo: Ann: we're out of milk"]);
  });

  it("refuses unknown senders once a day at no model cost", async () => {
    const { app, engine, t } = makeApp();
    const stranger = { id: "console:stranger", displayName: "S" };
    await app.handle(inbound({ text: "hi", sender: stranger }), t);
    await app.handle(inbound({ text: "hi again", sender: stranger }), t);
    expect(t.sent).toHaveLength(1);
    expect(t.texts()[0]).toMatch(/only talk with the family/);
    expect(engine.requests).toHaveLength(0);
  });

  it("keeps per-chat order and lets other chats through while one is busy", async () => {
    const gates = new Map<string, () => void>();
    const engine = new ScriptedEngine(async (req) => {
      const text = req.history.at(-1)!.text;
      if (text === "slow") await new Promise<void>((r) => gates.set(req.sessionKey, r));
      return `re: ${text}`;
    });
    const { app, t } = makeApp(engine);
    const ann = { id: "console:ann", displayName: "Ann" };
    const a1 = app.handle(inbound({ chatId: "test:a", text: "slow", sender: ann }), t);
    const a2 = app.handle(inbound({ chatId: "test:a", text: "second", sender: ann }), t);
    await app.handle(inbound({ chatId: "test:b", text: "other chat", sender: ann }), t);
    expect(t.texts("test:b")).toEqual(["re: other chat"]);
    expect(t.texts("test:a")).toEqual([]);
    await new Promise((r) => setTimeout(r, 20));
    gates.get("test:a")!();
    await Promise.all([a1, a2]);
    expect(t.texts("test:a")).toEqual(["re: slow", "re: second"]);
  });

  it("replies 'busy' when a chat's queue overflows, and loses nothing it accepted", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const engine = new ScriptedEngine(async (req) => {
      await gate;
      return `re: ${req.history.at(-1)!.text}`;
    });
    const { app, t } = makeApp(engine, { chat: { queueLimit: 2 } });
    const ann = { id: "console:ann", displayName: "Ann" };
    const all = Array.from({ length: 6 }, (_, i) => app.handle(inbound({ text: `m${i}`, sender: ann }), t));
    await new Promise((r) => setTimeout(r, 20));
    const busy = t.texts().filter((x) => /still working through/.test(x));
    expect(busy).toHaveLength(3);
    release();
    await Promise.all(all);
    expect(t.texts().filter((x) => x.startsWith("re: "))).toEqual(["re: m0", "re: m1", "re: m2"]);
  });

  it("turns an unexpected error into a ref'd reply, logs the same ref, and keeps serving", async () => {
    const logs: string[] = [];
    const { configureLogger } = await import("../../src/core/logger.ts");
    configureLogger({ level: "info", destination: { write: (s: string) => void logs.push(s) } });
    const engine = new ScriptedEngine((req) => {
      if (req.history.at(-1)!.text === "boom") throw new Error("kaboom");
      return "fine";
    });
    const { app, t } = makeApp(engine);
    const ann = { id: "console:ann", displayName: "Ann" };
    await app.handle(inbound({ text: "boom", sender: ann }), t);
    const m = /ref ([0-9a-f]{8})/.exec(t.texts()[0]!);
    expect(m).not.toBeNull();
    expect(logs.join("")).toContain(m![1]);
    expect(logs.join("")).toContain("kaboom");
    await app.handle(inbound({ text: "again", sender: ann }), t);
    expect(t.texts()[1]).toBe("fine");
  });

  it("shows a known error's user message", async () => {
    const feature = {
      name: "x",
      commands: [
        {
          name: "fail",
          description: "fails",
          run: async (_ctx: Context) => {
            throw new HearthError("NOPE", "That did not work; try /help.");
          },
        },
      ],
    };
    const { app, t } = makeApp(new ScriptedEngine(), {}, [feature]);
    await app.handle(inbound({ text: "/fail", sender: { id: "console:ann", displayName: "Ann" } }), t);
    expect(t.texts()).toEqual(["That did not work; try /help."]);
  });

  it("handles bad input: empty, huge, invalid UTF-16, unknown command", async () => {
    const { app, engine, t } = makeApp();
    const ann = { id: "console:ann", displayName: "Ann" };
    await app.handle(inbound({ text: "   ", sender: ann }), t);
    await app.handle(inbound({ text: "x".repeat(100_000), sender: ann }), t);
    await app.handle(inbound({ text: "bad \uD800 surrogate", sender: ann }), t);
    await app.handle(inbound({ text: "/frobnicate now", sender: ann }), t);
    const [empty, huge, bad, unknown] = t.texts();
    expect(empty).toMatch(/empty/);
    expect(huge).toMatch(/100,000 characters/);
    expect(bad).toBe("echo: bad \uFFFD surrogate");
    expect(unknown).toMatch(/don't know \/frobnicate.*\/help/);
    expect(engine.requests).toHaveLength(1);
  });

  it("/reset forgets the chat and its warm sequence; /help lists commands by role", async () => {
    const { app, engine, t } = makeApp();
    const ann = { id: "console:ann", displayName: "Ann" };
    await app.handle(inbound({ text: "remember this", sender: ann }), t);
    await app.handle(inbound({ text: "/reset", sender: ann }), t);
    expect(t.texts()[1]).toMatch(/forgot 2 messages/);
    expect(engine.forgotten).toEqual(["test:chat"]);
    expect(app.store.count("test:chat")).toBe(0);
    await app.handle(inbound({ text: "/help", sender: ann }), t);
    expect(t.texts()[2]).toMatch(/\/reset/);
  });

  it("history survives a restart", async () => {
    const home = tempHome({ people: family, log: { level: "silent" } });
    homes.push(home);
    const t = new MemoryTransport();
    const ann = { id: "console:ann", displayName: "Ann" };
    const e1 = new ScriptedEngine();
    const a1 = new HearthApp({ loaded: home, engine: e1 });
    await a1.handle(inbound({ text: "my favourite colour is green", sender: ann }), t);
    await a1.dispose(100);
    const e2 = new ScriptedEngine();
    const a2 = new HearthApp({ loaded: home, engine: e2 });
    apps.push(a2);
    await a2.handle(inbound({ text: "what is my favourite colour?", sender: ann }), t);
    const history = e2.requests[0]!.history.map((h) => h.text);
    expect(history).toEqual(["my favourite colour is green", "echo: my favourite colour is green", "what is my favourite colour?"]);
  });

  it("folds old turns when history exceeds the budget, keeping the newest", async () => {
    const engine = new ScriptedEngine(() => "ok", 512);
    const { app, t } = makeApp(engine, { memory: { historyBudget: 0.5 } });
    const ann = { id: "console:ann", displayName: "Ann" };
    for (let i = 0; i < 12; i++) await app.handle(inbound({ text: `message ${i} ${"words ".repeat(20)}`, sender: ann }), t);
    const last = engine.requests.at(-1)!;
    const tokens = last.history.reduce((a, h) => a + engine.countTokens(h.text) + 8, 0);
    expect(tokens).toBeLessThanOrEqual(256);
    expect(last.history.at(-1)!.text).toMatch(/^message 11/);
    expect(app.store.count("test:chat")).toBe(24); // folded, not deleted
  });

  it("summarize policy folds old turns into a summary the model sees", async () => {
    const engine = new ScriptedEngine(() => "ok", 512);
    engine.jsonAnswer = () => ({ summary: "Ann talked about numbered messages." });
    const { app, t } = makeApp(engine, { memory: { historyBudget: 0.5, overflowPolicy: "summarize" } });
    const ann = { id: "console:ann", displayName: "Ann" };
    for (let i = 0; i < 12; i++) await app.handle(inbound({ text: `message ${i} ${"words ".repeat(20)}`, sender: ann }), t);
    expect(engine.jsonRequests.length).toBeGreaterThan(0);
    expect(engine.requests.at(-1)!.systemPrompt).toContain("Ann talked about numbered messages.");
  });
});
