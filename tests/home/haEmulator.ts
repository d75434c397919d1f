import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A small Home Assistant stand-in on 127.0.0.1 for tests: the REST and WebSocket endpoints Hearth
 * uses, with the documented message shapes (auth_required → auth → auth_ok/auth_invalid; results
 * `{id, type: "result", success, result | error}`), a demo house that changes state on service
 * calls, and token checking on both APIs.
 *
 * Real Home Assistant was considered: the last release installable on Python 3.11 is 2024.3, and
 * a fresh instance needs onboarding plus runtime package installs before it serves a token, which
 * does not fit a CI budget. `home.real.test.ts` runs against a real instance when one is given.
 *
 * The WebSocket server side is hand-written (RFC 6455 framing) so tests need no extra package.
 */

/** A demo entity. */
interface DemoEntity {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
  area_id: string | null;
  device_id: string | null;
  exposed: boolean;
}

/** One HTTP request as the emulator saw it (for assertions about what reached "HA"). */
export interface SeenRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

/** Handle on a running emulator. */
export interface HaEmulator {
  /** Base URL, e.g. http://127.0.0.1:41234. */
  url: string;
  /** Every REST request received. */
  requests: SeenRequest[];
  /** Every WebSocket `auth` message's access_token received. */
  wsAuthTokens: string[];
  /** Service calls performed: `domain.service` with data. */
  calls: Array<{ service: string; data: Record<string, unknown> }>;
  /** Current state of an entity. */
  state(entityId: string): string | undefined;
  /** Number of currently open, authenticated WebSockets. */
  openSockets(): number;
  /** Close every WebSocket from the server side (to test reconnects). */
  dropWebSockets(): void;
  /** Stop answering (accept connections but never reply) — to test timeouts. */
  setFrozen(frozen: boolean): void;
  close(): Promise<void>;
}

/** Options of {@link startHaEmulator}. */
export interface HaEmulatorOptions {
  /** The only access token accepted. */
  token: string;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
}

const AREAS = [
  { area_id: "kids_room", name: "Kids' Room", aliases: [] },
  { area_id: "kitchen", name: "Kitchen", aliases: [] },
  { area_id: "entrance", name: "Entrance", aliases: [] },
  { area_id: "garage", name: "Garage", aliases: [] },
  { area_id: "living_room", name: "Living Room", aliases: [] },
  { area_id: "utility", name: "Utility", aliases: [] },
];

const DEVICES = [
  { id: "dev_lock", area_id: "entrance", name: "Front Door Lock", name_by_user: null },
  { id: "dev_garage", area_id: "garage", name: "Garage Opener", name_by_user: null },
  { id: "dev_meter", area_id: "utility", name: "Energy Meter", name_by_user: null },
];

function demoEntities(): DemoEntity[] {
  return [
    { entity_id: "light.kids_room", state: "on", attributes: { friendly_name: "Kids Room Light", brightness: 128 }, area_id: "kids_room", device_id: null, exposed: true },
    { entity_id: "light.kitchen", state: "off", attributes: { friendly_name: "Kitchen Light" }, area_id: "kitchen", device_id: null, exposed: true },
    { entity_id: "lock.front_door", state: "locked", attributes: { friendly_name: "Front Door" }, area_id: null, device_id: "dev_lock", exposed: true },
    { entity_id: "cover.garage_door", state: "closed", attributes: { friendly_name: "Garage Door", device_class: "garage" }, area_id: null, device_id: "dev_garage", exposed: true },
    {
      entity_id: "climate.thermostat",
      state: "heat",
      attributes: { friendly_name: "Thermostat", current_temperature: 66, temperature: 68, hvac_action: "heating", unit_of_measurement: undefined },
      area_id: "living_room",
      device_id: null,
      exposed: true,
    },
    {
      entity_id: "sensor.energy",
      state: "1234.5",
      attributes: { friendly_name: "House Energy", unit_of_measurement: "kWh", device_class: "energy", state_class: "total_increasing" },
      area_id: null,
      device_id: "dev_meter",
      exposed: true,
    },
    // Not exposed to Assist: nobody should see it through Hearth.
    { entity_id: "switch.server_rack", state: "on", attributes: { friendly_name: "Server Rack" }, area_id: "utility", device_id: null, exposed: false },
  ];
}

/** Start the emulator; call `close()` when done. */
export async function startHaEmulator(options: HaEmulatorOptions): Promise<HaEmulator> {
  const entities = new Map(demoEntities().map((e) => [e.entity_id, e]));
  const changedAt = new Map<string, string>();
  const history: Array<{ entity_id: string; state: string; at: number }> = [];
  const start = Date.now();
  for (const e of entities.values()) {
    changedAt.set(e.entity_id, new Date(start - 3_600_000).toISOString());
    history.push({ entity_id: e.entity_id, state: e.state, at: start - 3_600_000 });
  }
  const requests: SeenRequest[] = [];
  const wsAuthTokens: string[] = [];
  const calls: Array<{ service: string; data: Record<string, unknown> }> = [];
  const sockets = new Set<Socket>();
  const authed = new Set<Socket>();
  let frozen = false;

  const toState = (e: DemoEntity): Record<string, unknown> => ({
    entity_id: e.entity_id,
    state: e.state,
    attributes: Object.fromEntries(Object.entries(e.attributes).filter(([, v]) => v !== undefined)),
    last_changed: changedAt.get(e.entity_id),
    last_updated: changedAt.get(e.entity_id),
    context: { id: "01EMU", parent_id: null, user_id: null },
  });

  const setState = (e: DemoEntity, state: string): void => {
    if (e.state !== state) {
      e.state = state;
      const now = new Date();
      changedAt.set(e.entity_id, now.toISOString());
      history.push({ entity_id: e.entity_id, state, at: now.getTime() });
    }
  };

  /** Applies a service; returns changed entities, or an error message for HA's 400. */
  const applyService = (domain: string, service: string, data: Record<string, unknown>): DemoEntity[] | string => {
    const ids = typeof data["entity_id"] === "string" ? [data["entity_id"]] : Array.isArray(data["entity_id"]) ? (data["entity_id"] as string[]) : [];
    const changed: DemoEntity[] = [];
    for (const id of ids) {
      const e = entities.get(id);
      if (!e) continue;
      const svc = domain === "homeassistant" ? `${id.split(".")[0]}.${service}` : `${domain}.${service}`;
      switch (svc) {
        case "light.turn_on":
        case "switch.turn_on":
          setState(e, "on");
          if (typeof data["brightness_pct"] === "number") e.attributes["brightness"] = Math.round((data["brightness_pct"] / 100) * 255);
          break;
        case "light.turn_off":
        case "switch.turn_off":
          setState(e, "off");
          break;
        case "light.toggle":
        case "switch.toggle":
          setState(e, e.state === "on" ? "off" : "on");
          break;
        case "lock.lock":
          setState(e, "locked");
          break;
        case "lock.unlock":
          setState(e, "unlocked");
          break;
        case "cover.open_cover":
          setState(e, "open");
          break;
        case "cover.close_cover":
          setState(e, "closed");
          break;
        case "climate.set_temperature":
          if (typeof data["temperature"] !== "number") return "expected float for dictionary value @ data['temperature']";
          e.attributes["temperature"] = data["temperature"];
          break;
        case "climate.set_hvac_mode":
          setState(e, String(data["hvac_mode"]));
          break;
        default:
          return `Service ${domain}.${service} not found.`;
      }
      changed.push(e);
    }
    return changed;
  };

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };

  const handleRest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push({ method: req.method ?? "", path: url.pathname + url.search, authorization: req.headers.authorization, body });
    if (frozen) return; // Never answer: the client must time out.
    if (req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401, { "Content-Type": "text/plain" });
      res.end("401: Unauthorized");
      return;
    }
    const path = url.pathname;
    let m: RegExpExecArray | null;
    if (req.method === "GET" && path === "/api/") return json(res, 200, { message: "API running." });
    if (req.method === "GET" && path === "/api/states") return json(res, 200, [...entities.values()].map(toState));
    if (req.method === "GET" && (m = /^\/api\/states\/([^/]+)$/.exec(path))) {
      const e = entities.get(decodeURIComponent(m[1] ?? ""));
      return e ? json(res, 200, toState(e)) : json(res, 404, { message: "Entity not found." });
    }
    if (req.method === "POST" && (m = /^\/api\/services\/([a-z0-9_]+)\/([a-z0-9_]+)$/.exec(path))) {
      let data: Record<string, unknown>;
      try {
        data = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      } catch {
        return json(res, 400, { message: "Data should be valid JSON." });
      }
      const result = applyService(m[1] ?? "", m[2] ?? "", data);
      if (typeof result === "string") return json(res, 400, { message: result });
      calls.push({ service: `${m[1]}.${m[2]}`, data });
      return json(res, 200, result.map(toState));
    }
    if (req.method === "GET" && (m = /^\/api\/history\/period\/([^/]+)$/.exec(path))) {
      const from = Date.parse(decodeURIComponent(m[1] ?? ""));
      const to = url.searchParams.get("end_time") ? Date.parse(url.searchParams.get("end_time") ?? "") : Date.now();
      const ids = (url.searchParams.get("filter_entity_id") ?? "").split(",").filter(Boolean);
      if (Number.isNaN(from) || ids.length === 0) return json(res, 400, { message: "Invalid datetime" });
      const minimal = url.searchParams.has("minimal_response");
      const out = ids.map((id) =>
        history
          .filter((h) => h.entity_id === id && h.at <= to)
          // HA starts the list with the state in force at `from`.
          .filter((h, i, arr) => h.at >= from || arr.slice(i + 1).every((n) => n.at > from))
          .map((h, i) =>
            minimal && i > 0
              ? { state: h.state, last_changed: new Date(h.at).toISOString() }
              : { entity_id: id, state: h.state, attributes: {}, last_changed: new Date(Math.max(h.at, from)).toISOString() },
          ),
      );
      return json(res, 200, out.filter((rows) => rows.length > 0));
    }
    if (req.method === "POST" && path === "/api/conversation/process") {
      const text = String((JSON.parse(body || "{}") as { text?: unknown }).text ?? "").toLowerCase();
      const on = /turn (on|off) the (.+?) light/.exec(text);
      if (on) {
        const target = [...entities.values()].find((e) => e.entity_id.startsWith("light.") && String(e.attributes["friendly_name"]).toLowerCase().startsWith(on[2] ?? "?"));
        if (target) {
          setState(target, on[1] === "on" ? "on" : "off");
          return json(res, 200, {
            response: { speech: { plain: { speech: `Turned ${on[1]} the light`, extra_data: null } }, card: {}, language: "en", response_type: "action_done", data: { targets: [], success: [{ type: "entity", name: target.attributes["friendly_name"], id: target.entity_id }], failed: [] } },
            conversation_id: "01CONV",
          });
        }
      }
      return json(res, 200, {
        response: { speech: { plain: { speech: "Sorry, I couldn't understand that", extra_data: null } }, card: {}, language: "en", response_type: "error", data: { code: "no_intent_match" } },
        conversation_id: "01CONV",
      });
    }
    json(res, 404, { message: "Not found" });
  };

  const wsCommand = (msg: Record<string, unknown>): { success: true; result: unknown } | { success: false; error: { code: string; message: string } } => {
    switch (msg["type"]) {
      case "config/area_registry/list":
        return { success: true, result: AREAS };
      case "config/device_registry/list":
        return { success: true, result: DEVICES };
      case "config/entity_registry/list":
        return {
          success: true,
          result: [...entities.values()].map((e) => ({
            entity_id: e.entity_id,
            area_id: e.area_id,
            device_id: e.device_id,
            name: null,
            original_name: e.attributes["friendly_name"],
            disabled_by: null,
            hidden_by: null,
            platform: "demo",
          })),
        };
      case "homeassistant/expose_entity/list":
        return { success: true, result: { exposed_entities: Object.fromEntries([...entities.values()].map((e) => [e.entity_id, { conversation: e.exposed }])) } };
      case "get_states":
        return { success: true, result: [...entities.values()].map(toState) };
      case "recorder/statistics_during_period": {
        const from = Date.parse(String(msg["start_time"]));
        const to = msg["end_time"] ? Date.parse(String(msg["end_time"])) : Date.now();
        const period = msg["period"] === "day" ? 86_400_000 : msg["period"] === "hour" ? 3_600_000 : 0;
        if (Number.isNaN(from) || period === 0) return { success: false, error: { code: "invalid_format", message: "bad start_time or period" } };
        const out: Record<string, unknown[]> = {};
        for (const id of (msg["statistic_ids"] as string[] | undefined) ?? []) {
          if (id !== "sensor.energy") continue;
          const rows: unknown[] = [];
          // Deterministic use pattern: 0.5 kWh per hour, a bit more every third hour.
          for (let t = Math.ceil(from / period) * period; t + period <= to; t += period) {
            const hours = period / 3_600_000;
            const change = hours === 1 ? (Math.floor(t / 3_600_000) % 3 === 0 ? 1.0 : 0.5) : hours * (2 / 3);
            rows.push({ start: t, end: t + period, change });
          }
          out[id] = rows;
        }
        return { success: true, result: out };
      }
      default:
        return { success: false, error: { code: "unknown_command", message: "Unknown command." } };
    }
  };

  const server: Server = createServer((req, res) => {
    handleRest(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });

  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket) => {
    if (req.url !== "/api/websocket" || frozen) {
      if (!frozen) socket.destroy();
      return;
    }
    const key = req.headers["sec-websocket-key"];
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const send = (obj: unknown): void => {
      if (!socket.destroyed) socket.write(encodeFrame(0x1, Buffer.from(JSON.stringify(obj))));
    };
    send({ type: "auth_required", ha_version: "2025.1.0" });
    let buffer = Buffer.alloc(0);
    let fragments: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const frame = decodeFrame(buffer);
        if (!frame) break;
        buffer = buffer.subarray(frame.length);
        if (frame.opcode === 0x8) {
          socket.end(encodeFrame(0x8, Buffer.alloc(0)));
          authed.delete(socket);
          return;
        }
        if (frame.opcode === 0x9) {
          socket.write(encodeFrame(0xa, frame.payload));
          continue;
        }
        if (frame.opcode !== 0x1 && frame.opcode !== 0x0) continue;
        fragments.push(frame.payload);
        if (!frame.fin) continue;
        const text = Buffer.concat(fragments).toString("utf8");
        fragments = [];
        if (frozen) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (!authed.has(socket)) {
          if (msg["type"] !== "auth") continue;
          wsAuthTokens.push(String(msg["access_token"]));
          if (msg["access_token"] === options.token) {
            authed.add(socket);
            send({ type: "auth_ok", ha_version: "2025.1.0" });
          } else {
            send({ type: "auth_invalid", message: "Invalid access token or password" });
            socket.end(encodeFrame(0x8, Buffer.alloc(0)));
          }
          continue;
        }
        const reply = wsCommand(msg);
        send({ id: msg["id"], type: "result", ...reply, ...(reply.success ? {} : { result: undefined }) });
      }
    });
    socket.on("close", () => authed.delete(socket));
    socket.on("error", () => authed.delete(socket));
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    wsAuthTokens,
    calls,
    state: (id) => entities.get(id)?.state,
    openSockets: () => authed.size,
    dropWebSockets: () => {
      for (const s of authed) s.destroy();
      authed.clear();
    },
    setFrozen: (f) => {
      frozen = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  let header: Buffer;
  if (len < 126) {
    header = Buffer.from([0x80 | opcode, len]);
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([header, payload]);
}

function decodeFrame(buf: Buffer): { fin: boolean; opcode: number; payload: Buffer; length: number } | undefined {
  if (buf.length < 2) return undefined;
  const b0 = buf[0] as number;
  const b1 = buf[1] as number;
  let len = b1 & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  const maskOffset = offset;
  if (masked) offset += 4;
  if (buf.length < offset + len) return undefined;
  const payload = Buffer.from(buf.subarray(offset, offset + len));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (buf[maskOffset + (i % 4)] as number);
  return { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload, length: offset + len };
}
