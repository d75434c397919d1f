import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ModelFunction } from "../../src/llm/engine.ts";
import { createHomeTools } from "../../src/home/homeTools.ts";
import { runHaCommand } from "../../src/home/haCommands.ts";
import { startHaEmulator, type HaEmulator } from "./haEmulator.ts";
import { ann, bob, canaryToken, homeHarness, kid, vaultLikeAuthorize, type HomeHarness } from "./homeFixtures.ts";

/**
 * The model's side of a conversation, scripted: each step calls the tool a model would pick, with
 * the parameters it would send, and checks what the model would read back and what HA did.
 */

const token = canaryToken();
let ha: HaEmulator;
let h: HomeHarness;
/** Every text the model or a person would see, to check for the canary at the end. */
const outputs: string[] = [];

async function call(tools: Record<string, ModelFunction>, name: string, params: unknown): Promise<string> {
  const tool = tools[name];
  if (!tool) throw new Error(`no tool ${name}; have ${Object.keys(tools).join(", ")}`);
  const out = await tool.handler(params);
  outputs.push(out);
  return out;
}

async function command(text: string, person = ann): Promise<string | undefined> {
  const out = await runHaCommand(text, h.ctx(person));
  if (out !== undefined) outputs.push(out);
  return out;
}

beforeAll(async () => {
  ha = await startHaEmulator({ token });
});
afterAll(async () => {
  await ha.close();
});
beforeEach(() => {
  h = homeHarness(ha.url, vaultLikeAuthorize(token, new URL(ha.url).host));
});
afterEach(() => {
  // The canary never reaches anything a model, a person or the audit table sees.
  const auditDump = JSON.stringify(h.db.prepare("SELECT * FROM home_audit").all());
  expect(auditDump).not.toContain(token);
  for (const o of outputs) expect(o).not.toContain(token);
  h.dispose();
});

describe("home tools (scripted model)", () => {
  it("answers a read: 'is the garage door open?'", async () => {
    const tools = createHomeTools(h.ctx(ann));
    const found = await call(tools, "findEntities", { words: "garage" });
    expect(found).toContain("cover.garage_door");
    const state = await call(tools, "getState", { entity: "cover.garage_door" });
    expect(state).toContain(`: ${ha.state("cover.garage_door")}`);
    expect(state).toContain("Garage");
    expect(state.length).toBeLessThan(200);
  });

  it("only finds what the person may read, and never unexposed entities", async () => {
    const kidTools = createHomeTools(h.ctx(kid));
    const all = await call(kidTools, "findEntities", {});
    expect(all).toContain("light.kids_room");
    expect(all).toContain("lock.front_door");
    expect(all).not.toContain("light.kitchen");
    expect(await call(kidTools, "getState", { entity: "light.kitchen" })).toMatch(/nothing called/);
    const annAll = await call(createHomeTools(h.ctx(ann)), "findEntities", { words: "" });
    expect(annAll).not.toContain("switch.server_rack");
  });

  it("switches a light: 'turn off the kids' lights'", async () => {
    await h.client.callService("light", "turn_on", { entity_id: "light.kids_room" });
    const tools = createHomeTools(h.ctx(kid));
    const out = await call(tools, "callService", { entity: "kids' lights", service: "turn_off" });
    expect(out).toMatch(/Done: Kids Room Light is now off/);
    expect(ha.state("light.kids_room")).toBe("off");
    expect(h.audit.recent(1)[0]).toMatchObject({ person: "kid", action: "light.turn_off", entityId: "light.kids_room", result: "ok" });
  });

  it("denies control outside the person's scope and audits it", async () => {
    const tools = createHomeTools(h.ctx(bob));
    const before = ha.state("lock.front_door");
    const out = await call(tools, "callService", { entity: "lock.front_door", service: "unlock" });
    expect(out).toMatch(/may not control Front Door/);
    expect(ha.state("lock.front_door")).toBe(before);
    expect(h.audit.recent(1)[0]).toMatchObject({ person: "bob", result: "denied" });
  });

  it("refuses to unlock for a child until a parent confirms", async () => {
    await h.client.callService("lock", "lock", { entity_id: "lock.front_door" });
    const kidTools = createHomeTools(h.ctx(kid));
    const out = await call(kidTools, "callService", { entity: "front door", service: "unlock" });
    const id = /needs confirmation, id (\d+)/i.exec(out)?.[1];
    expect(id).toBeDefined();
    expect(ha.state("lock.front_door")).toBe("locked");
    // The child cannot confirm their own request.
    expect(await command(`/confirm ${id}`, kid)).toMatch(/may not confirm/);
    expect(ha.state("lock.front_door")).toBe("locked");
    // A parent can.
    expect(await command(`/confirm ${id}`, ann)).toMatch(/Done: Front Door is now unlocked/);
    expect(ha.state("lock.front_door")).toBe("unlocked");
    expect(await command(`/confirm ${id}`, ann)).toMatch(/no pending action/);
    const results = h.audit.recent(5).map((r) => `${r.person}:${r.result}`);
    expect(results.slice(0, 3)).toEqual(["ann:ok", "kid:denied", "kid:pending"]);
  });

  it("makes even a confirmer take a second explicit step", async () => {
    await h.client.callService("cover", "close_cover", { entity_id: "cover.garage_door" });
    const out = await call(createHomeTools(h.ctx(ann)), "callService", { entity: "garage door", service: "open_cover" });
    expect(out).toMatch(/needs confirmation/i);
    expect(ha.state("cover.garage_door")).toBe("closed");
    const id = /id (\d+)/.exec(out)?.[1] ?? "";
    expect(await command(`/confirm ${id}`)).toMatch(/Garage Door is now open/);
  });

  it("says clearly when a confirmation expired", async () => {
    await h.client.callService("lock", "lock", { entity_id: "lock.front_door" });
    const out = await call(createHomeTools(h.ctx(kid)), "callService", { entity: "lock.front_door", service: "unlock" });
    const id = /id (\d+)/.exec(out)?.[1] ?? "";
    h.clock.now += h.pending.ttlMs + 1;
    expect(await command(`/confirm ${id}`)).toMatch(new RegExp(`Action ${id} \\(unlock Front Door\\) expired; ask again`));
    expect(ha.state("lock.front_door")).toBe("locked");
    expect(h.audit.recent(1)[0]).toMatchObject({ person: "ann", result: "expired" });
  });

  it("lets set points inside the safe range through and parks the others", async () => {
    const tools = createHomeTools(h.ctx(bob));
    expect(await call(tools, "callService", { entity: "thermostat", service: "set_temperature", temperature: 68 })).toMatch(/Done/);
    const hot = await call(tools, "callService", { entity: "thermostat", service: "set_temperature", temperature: 85 });
    expect(hot).toMatch(/needs confirmation, id \d+: set temperature Thermostat to 85°/i);
    const state = await call(tools, "getState", { entity: "climate.thermostat" });
    expect(state).toContain("set to 68°");
  });

  it("answers history and energy questions", async () => {
    const tools = createHomeTools(h.ctx(ann));
    await h.client.callService("light", "toggle", { entity_id: "light.kitchen" });
    const hist = await call(tools, "getHistory", { entity: "light.kitchen", hours: 3 });
    expect(hist.split("\n").length).toBeGreaterThanOrEqual(3);
    const energy = await call(tools, "getHistory", { entity: "sensor.energy", hours: 6 });
    expect(energy).toMatch(/House Energy: [\d.]+ kWh used in the last 6 h \(per hour\)/);
  });

  it("offers HA's conversation agent only to people who may use it", async () => {
    expect(Object.keys(createHomeTools(h.ctx(kid)))).not.toContain("askHomeAssistant");
    const tools = createHomeTools(h.ctx(ann));
    await h.client.callService("light", "turn_off", { entity_id: "light.kitchen" });
    expect(await call(tools, "askHomeAssistant", { text: "Turn on the kitchen light" })).toBe("Turned on the light");
    expect(ha.state("light.kitchen")).toBe("on");
  });

  it("turns bad parameters into a hint instead of throwing", async () => {
    const tools = createHomeTools(h.ctx(ann));
    expect(await call(tools, "getState", { nope: 1 })).toMatch(/Invalid parameters: entity/);
    expect(await call(tools, "callService", { entity: "light.kitchen", service: "lock.unlock" })).toMatch(/not a service of/);
  });

  it("tells the model when Home Assistant is down, fast", async () => {
    await ha.close();
    try {
      const tools = createHomeTools(h.ctx(ann));
      const out = await call(tools, "getState", { entity: "light.kitchen" });
      expect(out).toContain(`Home Assistant at ${ha.url} is not answering; check it is running`);
    } finally {
      ha = await startHaEmulator({ token, port: Number(new URL(ha.url).port) });
    }
  });
});

describe("/ha commands", () => {
  it("reads, finds and switches", async () => {
    expect(await command("/ha state light.kitchen")).toContain(`Kitchen Light (light.kitchen, Kitchen): ${ha.state("light.kitchen")}`);
    expect(await command("/ha find kids")).toContain("light.kids_room");
    expect(await command("/ha off kitchen light")).toMatch(/now off/);
    expect(ha.state("light.kitchen")).toBe("off");
    expect(await command("/ha on light.kitchen")).toMatch(/now on/);
    expect(ha.state("light.kitchen")).toBe("on");
  });

  it("answers malformed commands with usage and ignores other text", async () => {
    expect(await command("/ha")).toMatch(/^Usage: \/ha state/);
    expect(await command("/ha dance light.kitchen")).toMatch(/^Usage:/);
    expect(await command("/confirm abc")).toMatch(/^Usage: \/confirm ID/);
    expect(await command("/ha off front door")).toMatch(/does not fit Front Door/);
    expect(await command("hello there")).toBeUndefined();
    expect(await command("/hat")).toBeUndefined();
  });

  it("shows the audit log to admins only", async () => {
    await command("/ha off light.kitchen");
    expect(await command("/audit", kid)).toMatch(/Only admins/);
    const audit = await command("/audit 5");
    expect(audit).toMatch(/ann light\.turn_off light\.kitchen ok/);
  });
});

describe("cancellation", () => {
  it("stops a tool call when the engine's per-call signal aborts", async () => {
    const tools = createHomeTools(h.ctx(ann));
    ha.setFrozen(true);
    try {
      const ac = new AbortController();
      const p = tools["getState"]!.handler({ entity: "light.kitchen" }, ac.signal);
      setTimeout(() => ac.abort(), 100);
      await expect(p).rejects.toMatchObject({ code: "ABORTED" });
    } finally {
      ha.setFrozen(false);
    }
  });
});
