import { afterAll, describe, expect, it } from "vitest";
import { HaClient } from "../../src/home/haClient.ts";
import { createHomeTools } from "../../src/home/homeTools.ts";
import { ann, homeHarness, vaultLikeAuthorize, type HomeHarness } from "./homeFixtures.ts";

/**
 * Opt-in checks against a REAL Home Assistant. Vitest-level toggles (the only env reads in these
 * tests):
 * - HEARTH_TEST_HA_URL, e.g. http://homeassistant.local:8123, and HEARTH_TEST_HA_TOKEN (a
 *   long-lived token) — enable the read-only checks.
 * - HEARTH_TEST_HA_TOGGLE_ENTITY, e.g. light.test_lamp — also toggles that entity twice (it ends
 *   as it started). Leave unset to never change anything in the house.
 */
const url = process.env["HEARTH_TEST_HA_URL"];
const token = process.env["HEARTH_TEST_HA_TOKEN"];
const toggleEntity = process.env["HEARTH_TEST_HA_TOGGLE_ENTITY"];
const enabled = Boolean(url && token);

let h: HomeHarness | undefined;
afterAll(() => h?.dispose());

describe.skipIf(!enabled)("real Home Assistant (skipped unless HEARTH_TEST_HA_URL and HEARTH_TEST_HA_TOKEN are set)", { timeout: 60_000 }, () => {
  const haUrl = url ?? "";
  const haToken = token ?? "";
  const host = () => new URL(haUrl).host;
  const harness = (): HomeHarness => (h ??= homeHarness(haUrl, vaultLikeAuthorize(haToken, host()), { timeoutMs: 15_000 }));

  it("reads states and registries", async () => {
    const { client } = harness();
    const states = await client.getStates();
    expect(states.length).toBeGreaterThan(0);
    const reg = await client.getRegistry();
    expect(Array.isArray(reg.areas)).toBe(true);
    expect(reg.entities.length).toBeGreaterThan(0);
  });

  it("answers findEntities for an all-access person without leaking the token", async () => {
    const tools = createHomeTools(harness().ctx(ann));
    const out = await tools["findEntities"]!.handler({});
    expect(out.length).toBeGreaterThan(0);
    expect(out).not.toContain(haToken);
  });

  it("rejects a wrong token with HA_AUTH", async () => {
    const bad = new HaClient({ url: haUrl, authorize: vaultLikeAuthorize("not-a-token", host()) });
    try {
      await expect(bad.getStates()).rejects.toMatchObject({ code: "HA_AUTH" });
      await expect(bad.getRegistry()).rejects.toMatchObject({ code: "HA_AUTH" });
    } finally {
      bad.dispose();
    }
  });

  it.skipIf(!toggleEntity)("toggles HEARTH_TEST_HA_TOGGLE_ENTITY twice", async () => {
    const { client } = harness();
    const id = toggleEntity ?? "";
    const before = (await client.getState(id))?.state;
    expect(before).toBeDefined();
    const [domain] = id.split(".");
    await client.callService(domain ?? "", "toggle", { entity_id: id });
    const deadline = Date.now() + 10_000;
    let mid = before;
    while (mid === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      mid = (await client.getState(id))?.state;
    }
    await client.callService(domain ?? "", "toggle", { entity_id: id });
    expect(mid).not.toBe(before);
  });
});
