import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceError } from "../../src/core/errors.ts";
import { HaClient } from "../../src/home/haClient.ts";
import { startHaEmulator, type HaEmulator } from "./haEmulator.ts";
import { canaryToken, vaultLikeAuthorize } from "./homeFixtures.ts";

const token = canaryToken();
let ha: HaEmulator;
let host: string;

beforeAll(async () => {
  ha = await startHaEmulator({ token });
  host = new URL(ha.url).host;
});
afterAll(async () => {
  await ha.close();
});

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe("HaClient against the emulator", () => {
  it("reads states over REST, sending the token only in the authorized request", async () => {
    const seen: string[] = [];
    const client = new HaClient({ url: ha.url, authorize: vaultLikeAuthorize(token, host, seen) });
    try {
      const states = await client.getStates();
      expect(states.find((s) => s.entity_id === "light.kitchen")?.state).toBe(ha.state("light.kitchen"));
      expect(await client.getState("light.nope")).toBeUndefined();
      // The request handed to authorize carried the handle, never the token.
      expect(seen.some((r) => r.includes("{{secret:ha_token}}"))).toBe(true);
      expect(seen.join("\n")).not.toContain(token);
      expect(ha.requests.at(-1)?.authorization).toBe(`Bearer ${token}`);
    } finally {
      client.dispose();
    }
  });

  it("loads registries and the Assist exposure list over the WebSocket", async () => {
    const client = new HaClient({ url: ha.url, authorize: vaultLikeAuthorize(token, host) });
    try {
      const reg = await client.getRegistry();
      expect(reg.areas.map((a) => a.area_id)).toContain("kids_room");
      expect(reg.entities.some((e) => e.entity_id === "lock.front_door" && e.device_id === "dev_lock")).toBe(true);
      expect(reg.exposed?.has("light.kitchen")).toBe(true);
      expect(reg.exposed?.has("switch.server_rack")).toBe(false);
      expect(ha.wsAuthTokens.at(-1)).toBe(token);
      // Cached: a second call within the TTL is the same snapshot.
      expect(await client.getRegistry()).toBe(reg);
    } finally {
      client.dispose();
    }
  });

  it("reads long-term statistics", async () => {
    const client = new HaClient({ url: ha.url, authorize: vaultLikeAuthorize(token, host) });
    try {
      const end = new Date();
      const start = new Date(end.getTime() - 6 * 3_600_000);
      const stats = await client.getStatistics(["sensor.energy"], start, end, "hour", ["change"]);
      const rows = stats["sensor.energy"] ?? [];
      expect(rows.length).toBeGreaterThanOrEqual(5);
      expect(rows.every((r) => typeof r.change === "number" && r.end - r.start === 3_600_000)).toBe(true);
    } finally {
      client.dispose();
    }
  });

  it("calls a service and sees the changed state", async () => {
    const client = new HaClient({ url: ha.url, authorize: vaultLikeAuthorize(token, host) });
    try {
      const before = ha.state("light.kitchen");
      const wanted = before === "on" ? "turn_off" : "turn_on";
      const changed = await client.callService("light", wanted, { entity_id: "light.kitchen" });
      expect(changed[0]?.state).toBe(wanted === "turn_on" ? "on" : "off");
      expect(ha.state("light.kitchen")).not.toBe(before);
    } finally {
      client.dispose();
    }
  });

  it("reports a wrong token as HA_AUTH on REST and WebSocket", async () => {
    const client = new HaClient({ url: ha.url, authorize: vaultLikeAuthorize("wrong-token", host) });
    try {
      await expect(client.getStates()).rejects.toMatchObject({ code: "HA_AUTH" });
      const err = await client.getRegistry().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServiceError);
      expect((err as ServiceError).code).toBe("HA_AUTH");
      expect((err as ServiceError).userMessage).toContain("hearth vault add ha_token");
    } finally {
      client.dispose();
    }
  });

  it("fails fast and clearly when Home Assistant is down", async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const client = new HaClient({ url, authorize: vaultLikeAuthorize(token, `127.0.0.1:${port}`), timeoutMs: 20_000 });
    try {
      const started = Date.now();
      const rest = await client.getStates().catch((e: unknown) => e);
      const ws = await client.getRegistry().catch((e: unknown) => e);
      for (const err of [rest, ws]) {
        expect(err).toBeInstanceOf(ServiceError);
        expect((err as ServiceError).code).toBe("HA_UNREACHABLE");
        expect((err as ServiceError).userMessage).toContain(`Home Assistant at ${url} is not answering`);
      }
      // Connection refused must not wait out the 20 s timeout.
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      client.dispose();
    }
  });

  it("times out instead of hanging when Home Assistant stops answering", async () => {
    const client = new HaClient({ url: ha.url, authorize: vaultLikeAuthorize(token, host), timeoutMs: 700 });
    ha.setFrozen(true);
    try {
      await expect(client.getStates()).rejects.toMatchObject({ code: "HA_UNREACHABLE" });
      await expect(client.wsCommand("get_states")).rejects.toMatchObject({ code: "HA_UNREACHABLE" });
    } finally {
      ha.setFrozen(false);
      client.dispose();
    }
  });

  it("reconnects the WebSocket by itself after the server drops it", async () => {
    const client = new HaClient({ url: ha.url, authorize: vaultLikeAuthorize(token, host), reconnectInitialMs: 50 });
    try {
      await client.wsCommand("get_states");
      expect(client.webSocketConnected).toBe(true);
      const authsBefore = ha.wsAuthTokens.length;
      ha.dropWebSockets();
      // Without any new command, the client comes back on its own: a fresh auth reaches HA.
      const deadline = Date.now() + 20_000;
      while (!(ha.wsAuthTokens.length > authsBefore && client.webSocketConnected) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(ha.wsAuthTokens.length).toBe(authsBefore + 1);
      expect(client.webSocketConnected).toBe(true);
      const states = await client.wsCommand<unknown[]>("get_states");
      expect(states.length).toBeGreaterThan(0);
    } finally {
      client.dispose();
    }
  });

  it("maps an unknown WebSocket command to HA_UNKNOWN_COMMAND and stays connected", async () => {
    const client = new HaClient({ url: ha.url, authorize: vaultLikeAuthorize(token, host) });
    try {
      await expect(client.wsCommand("hearth/no_such_command")).rejects.toMatchObject({ code: "HA_UNKNOWN_COMMAND" });
      expect((await client.wsCommand<unknown[]>("get_states")).length).toBeGreaterThan(0);
    } finally {
      client.dispose();
    }
  });

  it("honours an AbortSignal", async () => {
    const client = new HaClient({ url: ha.url, authorize: vaultLikeAuthorize(token, host), timeoutMs: 10_000 });
    ha.setFrozen(true);
    try {
      const ac = new AbortController();
      const p = client.getStates(ac.signal);
      setTimeout(() => ac.abort(), 100);
      await expect(p).rejects.toMatchObject({ code: "ABORTED" });
    } finally {
      ha.setFrozen(false);
      client.dispose();
    }
  });

  it("refuses a host the vault does not allow", async () => {
    const client = new HaClient({ url: ha.url, authorize: vaultLikeAuthorize(token, "homeassistant.local:8123") });
    const before = ha.requests.length;
    try {
      await expect(client.getStates()).rejects.toBeInstanceOf(ServiceError);
      // Nothing went out: the refusal happens before sending.
      expect(ha.requests.length).toBe(before);
    } finally {
      client.dispose();
    }
  });
});
