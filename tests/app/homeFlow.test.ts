import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openVault } from "../../src/app/openVault.ts";
import { buildApp, type Runtime } from "../../src/app/runtime.ts";
import { configureLogger } from "../../src/core/logger.ts";
import { startHaEmulator, type HaEmulator } from "../home/haEmulator.ts";
import { ScriptedEngine } from "../helpers/scriptedEngine.ts";
import { MemoryTransport, inbound } from "../helpers/memoryTransport.ts";
import { tempHome } from "../helpers/tempHome.ts";

/**
 * Home Assistant through the whole app: vault-held token, per-person permissions, confirmation of
 * sensitive actions, and the token never reaching the model, the trace, the database or the logs.
 */
const token = `hatok_${randomBytes(24).toString("hex")}`;
let ha: HaEmulator;
let home: ReturnType<typeof tempHome>;
let rt: Runtime;
let engine: ScriptedEngine;
const logs: string[] = [];
const ann = { id: "console:ann", displayName: "Ann" };
const kid = { id: "console:kid", displayName: "Kid" };

beforeAll(async () => {
  configureLogger({ level: "debug", destination: { write: (s: string) => void logs.push(s) } });
  ha = await startHaEmulator({ token });
  const port = new URL(ha.url).port;
  const none = { areas: [], domains: [], entities: [] };
  home = tempHome(
    {
      log: { level: "debug" },
      home: { enabled: true, url: ha.url },
      people: [
        { name: "ann", role: "admin", identities: ["console:ann"], home: { read: { ...none, areas: ["*"] }, control: { ...none, domains: ["*"] }, canConfirm: true } },
        {
          name: "kid",
          role: "child",
          identities: ["console:kid"],
          home: { read: { ...none, areas: ["kids_room"], entities: ["lock.front_door"] }, control: { ...none, areas: ["kids_room"], entities: ["lock.front_door"] } },
        },
      ],
    },
    {},
  );
  const keyFile = join(home.dir, "vault.key");
  writeFileSync(keyFile, randomBytes(32));
  chmodSync(keyFile, 0o600);
  const loaded = { ...home, vaultEnv: { ...home.vaultEnv, keyFile }, config: { ...home.config, tracePrompts: join(home.dir, "trace.jsonl"), vault: { ...home.config.vault, keychain: false } } };
  const vault = await openVault(loaded, { create: true });
  await vault.add("ha_token", token, { allowHosts: [`127.0.0.1:${port}`] });
  vault.dispose();
  engine = new ScriptedEngine(async (req) => {
    // A scripted model that always asks for the garage door's state through the tool.
    const out = await req.functions!["getState"]!.handler({ entity: "cover.garage_door" });
    return `The garage door: ${out}`;
  });
  rt = await buildApp(loaded, { engine });
});

afterAll(async () => {
  await rt?.app.dispose(100);
  await ha?.close();
  home?.cleanup();
});

describe("home automation through the app", () => {
  it("answers a question with a tool, within the asker's permissions", async () => {
    const t = new MemoryTransport();
    await rt.app.handle(inbound({ text: "is the garage door open?", sender: ann, chatId: "console:ann" }), t);
    expect(t.texts()[0]).toMatch(/garage door: .*closed/i);
    await rt.app.handle(inbound({ text: "is the garage door open?", sender: kid, chatId: "console:kid" }), t);
    expect(t.texts()[1]).not.toMatch(/closed/i);
  });

  it("a child switches their own light but not the kitchen's", async () => {
    const t = new MemoryTransport();
    await rt.app.handle(inbound({ text: "/ha off light.kids_room", sender: kid, chatId: "console:kid" }), t);
    expect(ha.state("light.kids_room")).toBe("off");
    await rt.app.handle(inbound({ text: "/ha on light.kitchen", sender: kid, chatId: "console:kid" }), t);
    expect(ha.state("light.kitchen")).toBe("off");
    // Entities outside what she may read are not even acknowledged to exist.
    expect(t.texts()[1]).toMatch(/found nothing called|not allowed/i);
  });

  it("a lock asked for by a child waits for a parent's /confirm", async () => {
    const t = new MemoryTransport();
    await rt.app.handle(inbound({ text: "/ha unlock lock.front_door", sender: kid, chatId: "console:kid" }), t);
    expect(ha.state("lock.front_door")).toBe("locked");
    const id = /id (\d+)/i.exec(t.texts()[0]!)?.[1];
    expect(id).toBeDefined();
    expect(t.sent[0]!.reply.buttons?.map((b) => b.command)).toEqual([`/confirm ${id}`, `/cancel ${id}`]);
    await rt.app.handle(inbound({ text: `/confirm ${id}`, sender: kid, chatId: "console:kid" }), t);
    expect(ha.state("lock.front_door")).toBe("locked");
    await rt.app.handle(inbound({ text: `/confirm ${id}`, sender: ann, chatId: "console:ann" }), t);
    expect(ha.state("lock.front_door")).toBe("unlocked");
    await rt.app.handle(inbound({ text: "/audit", sender: ann, chatId: "console:ann" }), t);
    expect(t.texts().at(-1)).toMatch(/lock\.front_door/);
    await rt.app.handle(inbound({ text: "/audit", sender: kid, chatId: "console:kid" }), t);
    expect(t.texts().at(-1)).toMatch(/only for admins/);
  });

  it("an action the model asks for that needs confirmation comes back with Confirm/Cancel buttons", async () => {
    const t = new MemoryTransport();
    const previous = engine.answer;
    engine.answer = async (req) => `Done: ${await req.functions!["callService"]!.handler({ entity: "cover.garage_door", service: "open_cover" })}`;
    try {
      await rt.app.handle(inbound({ text: "open the garage", sender: ann, chatId: "console:ann" }), t);
    } finally {
      engine.answer = previous;
    }
    expect(ha.state("cover.garage_door")).toBe("closed");
    const last = t.sent.at(-1)!;
    const id = /Action (\d+) is waiting/.exec(last.reply.text)?.[1];
    expect(id).toBeDefined();
    expect(last.reply.buttons?.map((b) => b.command)).toEqual([`/confirm ${id}`, `/cancel ${id}`]);
    await rt.app.handle(inbound({ text: `/confirm ${id}`, sender: ann, chatId: "console:ann" }), t);
    expect(ha.state("cover.garage_door")).toBe("open");
  });

  it("the token reached Home Assistant but never the model, trace, database or logs", () => {
    expect(ha.requests.some((r) => r.authorization === `Bearer ${token}`) || ha.wsAuthTokens.includes(token)).toBe(true);
    const everything = [
      JSON.stringify(engine.requests.map((r) => ({ s: r.systemPrompt, h: r.history }))),
      readFileSync(join(home.dir, "trace.jsonl"), "utf8"),
      logs.join(""),
      ...readdirSync(home.paths.dataDir)
        .filter((f) => !f.startsWith("vault") && statSync(join(home.paths.dataDir, f)).isFile())
        .map((f) => readFileSync(join(home.paths.dataDir, f)).toString("latin1")),
    ].join("\n");
    expect(everything).toContain("garage");
    expect(everything).not.toContain(token);
  });
});
