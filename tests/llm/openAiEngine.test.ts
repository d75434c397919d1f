import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AbortedError, InputError, ModelError, ServiceError } from "../../src/core/errors.ts";
import { OpenAiEngine } from "../../src/llm/openAiEngine.ts";

// A tiny OpenAI-compatible server on 127.0.0.1 that speaks the documented request/response
// shapes (chat.completion, chat.completion.chunk over SSE, tool_calls deltas, usage).

type Handler = (body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

let server: Server;
let baseUrl: string;
let handler: Handler;
const requests: Array<{ body: Record<string, unknown>; headers: IncomingMessage["headers"]; url: string | undefined }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString("utf8")));
    req.on("end", () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      requests.push({ body, headers: req.headers, url: req.url });
      if (req.url !== "/v1/chat/completions") {
        res.writeHead(404).end(JSON.stringify({ error: { message: "not found" } }));
        return;
      }
      void handler(body, req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

afterEach(() => {
  requests.length = 0;
});

function sse(res: ServerResponse, events: unknown[], done = true): void {
  res.writeHead(200, { "content-type": "text/event-stream" });
  for (const e of events) res.write(`data: ${JSON.stringify(e)}\n\n`);
  if (done) res.write("data: [DONE]\n\n");
  res.end();
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
  id: "c1",
  object: "chat.completion.chunk",
  choices: [{ index: 0, delta, finish_reason: finish }],
});

function engine(extra: Partial<ConstructorParameters<typeof OpenAiEngine>[0]> = {}) {
  return new OpenAiEngine({ baseUrl, model: "test-model", temperature: 0, ...extra });
}

describe("OpenAiEngine", { timeout: 30_000 }, () => {
  it("streams the answer over SSE and reports usage", async () => {
    handler = (_body, _req, res) =>
      sse(res, [
        chunk({ role: "assistant", content: "" }),
        chunk({ content: "Hello" }),
        chunk({ content: ", Ann" }),
        chunk({}, "stop"),
        { id: "c1", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 30, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 20 } } },
      ]);
    const chunks: string[] = [];
    const res = await engine({ apiKey: "sk-test-secret" }).chat({
      sessionKey: "s",
      systemPrompt: "Be kind.",
      history: [
        { role: "user", text: "hi" },
        { role: "assistant", text: "hello" },
        { role: "user", text: "how are you?" },
      ],
      maxTokens: 50,
      onTextChunk: (c) => chunks.push(c),
    });
    expect(chunks).toEqual(["Hello", ", Ann"]);
    expect(res).toEqual({ text: "Hello, Ann", generatedTokens: 3, evaluatedPromptTokens: 10, stopReason: "eos" });
    const sent = requests[0]!;
    expect(sent.headers.authorization).toBe("Bearer sk-test-secret");
    expect(sent.body.model).toBe("test-model");
    expect(sent.body.stream).toBe(true);
    expect(sent.body.max_tokens).toBe(50);
    expect(sent.body.messages).toEqual([
      { role: "system", content: "Be kind." },
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
      { role: "user", content: "how are you?" },
    ]);
  });

  it("traces the request body but never the API key", async () => {
    handler = (_b, _r, res) => sse(res, [chunk({ content: "ok" }, "stop")]);
    const traces: string[] = [];
    const e = engine({ apiKey: "sk-very-secret-value" });
    e.onPrompt((t) => traces.push(t.prompt));
    await e.chat({ sessionKey: "s", systemPrompt: "SYS", history: [{ role: "user", text: "USER" }] });
    expect(traces).toHaveLength(1);
    expect(traces[0]).toContain("SYS");
    expect(traces[0]).toContain("USER");
    expect(traces[0]).not.toContain("sk-very-secret-value");
  });

  it("handles events split across network packets and CRLF lines", async () => {
    handler = async (_b, _r, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const text = `data: ${JSON.stringify(chunk({ content: "héllo" }))}\r\n\r\ndata: ${JSON.stringify(chunk({ content: " wörld" }, "length"))}\r\n\r\ndata: [DONE]\r\n\r\n`;
      const bytes = Buffer.from(text, "utf8");
      for (let i = 0; i < bytes.length; i += 7) {
        res.write(bytes.subarray(i, i + 7));
        await new Promise((r) => setTimeout(r, 1));
      }
      res.end();
    };
    const res = await engine().chat({ sessionKey: "s", systemPrompt: "", history: [{ role: "user", text: "x" }] });
    expect(res.text).toBe("héllo wörld");
    expect(res.stopReason).toBe("maxTokens");
    expect(res.generatedTokens).toBe(2); // no usage sent: counted from chunks
  });

  it("runs tool calls and sends the results back in the OpenAI tools format", async () => {
    const calls: unknown[] = [];
    handler = (body, _req, res) => {
      const messages = body.messages as Array<Record<string, unknown>>;
      if (messages.at(-1)!.role !== "tool") {
        sse(res, [
          chunk({ role: "assistant", tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "lightOff", arguments: "" } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: '{"room":' } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: '"kitchen"}' } }] }),
          chunk({}, "tool_calls"),
        ]);
      } else {
        sse(res, [chunk({ content: "Done: " + String(messages.at(-1)!.content) }), chunk({}, "stop")]);
      }
    };
    const res = await engine().chat({
      sessionKey: "s",
      systemPrompt: "You control the house.",
      history: [{ role: "user", text: "kitchen light off" }],
      functions: {
        lightOff: {
          description: "Turn off a light",
          parameters: { type: "object", properties: { room: { type: "string" } }, required: ["room"] },
          handler: async (p) => {
            calls.push(p);
            return "light is off";
          },
        },
      },
    });
    expect(calls).toEqual([{ room: "kitchen" }]);
    expect(res.text).toBe("Done: light is off");
    expect(res.stopReason).toBe("eos");
    expect(requests).toHaveLength(2);
    expect(requests[0]!.body.tools).toEqual([
      { type: "function", function: { name: "lightOff", description: "Turn off a light", parameters: { type: "object", properties: { room: { type: "string" } }, required: ["room"] } } },
    ]);
    const second = requests[1]!.body.messages as Array<Record<string, unknown>>;
    expect(second.at(-2)).toEqual({ role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "lightOff", arguments: '{"room":"kitchen"}' } }] });
    expect(second.at(-1)).toEqual({ role: "tool", tool_call_id: "call_1", content: "light is off" });
  });

  it("aborts mid-stream promptly, returns what arrived, and stays usable", async () => {
    handler = (_b, _r, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`data: ${JSON.stringify(chunk({ content: "partial" }))}\n\n`);
      // ...then never finishes (a stuck server).
    };
    const ac = new AbortController();
    const e = engine();
    const started = Date.now();
    const res = await e.chat({ sessionKey: "s", systemPrompt: "", history: [{ role: "user", text: "x" }], signal: ac.signal, onTextChunk: () => ac.abort() });
    expect(res.stopReason).toBe("abort");
    expect(res.text).toBe("partial");
    expect(Date.now() - started).toBeLessThan(10_000);
    handler = (_b, _r, r) => sse(r, [chunk({ content: "fine" }, "stop")]);
    expect((await e.chat({ sessionKey: "s", systemPrompt: "", history: [{ role: "user", text: "y" }] })).text).toBe("fine");
  });

  it("throws AbortedError when aborted before any text", async () => {
    handler = () => undefined; // never answers
    const ac = new AbortController();
    const p = engine().chat({ sessionKey: "s", systemPrompt: "", history: [{ role: "user", text: "x" }], signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toBeInstanceOf(AbortedError);
  });

  it("asks for json_schema output and checks the answer", async () => {
    handler = (_b, _r, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: "assistant", content: '{"total": 12.5, "merchant": "CVS"}' }, finish_reason: "stop" }] }));
    };
    const schema = { type: "object", properties: { total: { type: "number" }, merchant: { type: "string" } }, required: ["total", "merchant"] };
    const value = await engine().json({ systemPrompt: "Extract.", prompt: "CVS 12.50", schema });
    expect(value).toEqual({ total: 12.5, merchant: "CVS" });
    expect(requests[0]!.body.response_format).toEqual({ type: "json_schema", json_schema: { name: "answer", schema, strict: true } });
  });

  it("falls back to json_object, then to instructions, when the server rejects response_format", async () => {
    handler = (body, _r, res) => {
      const format = body.response_format as { type?: string } | undefined;
      if (format?.type === "json_schema" || format?.type === "json_object") {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `response_format type ${format.type} is not supported` } }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ choices: [{ message: { content: '```json\n{"ok": true}\n```' }, finish_reason: "stop" }] }));
    };
    const e = engine();
    const schema = { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] };
    expect(await e.json({ systemPrompt: "S", prompt: "P", schema })).toEqual({ ok: true });
    expect(requests.map((r) => (r.body.response_format as { type?: string } | undefined)?.type)).toEqual(["json_schema", "json_object", undefined]);
    const lastSystem = (requests[2]!.body.messages as Array<{ content: string }>)[0]!.content;
    expect(lastSystem).toContain(JSON.stringify(schema));
    // The engine remembers what the server supports.
    requests.length = 0;
    await e.json({ systemPrompt: "S", prompt: "P", schema });
    expect(requests).toHaveLength(1);
  });

  it("reports a JSON answer that does not match the schema", async () => {
    handler = (_b, _r, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ choices: [{ message: { content: '{"total": "twelve"}' }, finish_reason: "stop" }] }));
    };
    const err = await engine()
      .json({ systemPrompt: "S", prompt: "P", schema: { type: "object", properties: { total: { type: "number" } }, required: ["total"] } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).userMessage).toContain("$.total");
  });

  it("gives clear errors for auth, wrong URL and unreachable servers", async () => {
    handler = (_b, _r, res) => {
      res.writeHead(401).end("{}");
    };
    const auth = await engine({ apiKey: "bad" }).chat({ sessionKey: "s", systemPrompt: "", history: [{ role: "user", text: "x" }] }).catch((e: unknown) => e);
    expect((auth as ServiceError).code).toBe("LLM_SERVER_AUTH");
    expect((auth as ServiceError).userMessage).toMatch(/API key/);
    expect((auth as ServiceError).message).not.toContain("bad");

    const wrong = await new OpenAiEngine({ baseUrl: baseUrl.replace(/\/v1$/, "/api"), model: "m" }).chat({ sessionKey: "s", systemPrompt: "", history: [{ role: "user", text: "x" }] }).catch((e: unknown) => e);
    expect((wrong as ServiceError).code).toBe("LLM_SERVER_NOT_FOUND");

    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const down = await new OpenAiEngine({ baseUrl: `http://127.0.0.1:${port}/v1`, model: "m" }).chat({ sessionKey: "s", systemPrompt: "", history: [{ role: "user", text: "x" }] }).catch((e: unknown) => e);
    expect((down as ServiceError).code).toBe("LLM_SERVER_UNREACHABLE");
    expect((down as ServiceError).userMessage).toContain(`127.0.0.1:${port}`);
  });

  it("trims old turns to the context and refuses a message that cannot fit", async () => {
    handler = (_b, _r, res) => sse(res, [chunk({ content: "ok" }, "stop")]);
    const e = engine({ contextSize: 400, maxTokens: 50 });
    const history = Array.from({ length: 40 }, (_, i) => ({ role: (i % 2 === 0 ? "user" : "assistant") as "user" | "assistant", text: `turn ${i} `.repeat(5) }));
    history.push({ role: "user", text: "LATEST" });
    await e.chat({ sessionKey: "s", systemPrompt: "SYS", history });
    const sent = requests[0]!.body.messages as Array<{ role: string; content: string }>;
    expect(sent[0]).toEqual({ role: "system", content: "SYS" });
    expect(sent.at(-1)).toEqual({ role: "user", content: "LATEST" });
    expect(sent.length).toBeLessThan(history.length);
    expect(sent[1]!.role).toBe("user");
    expect(JSON.stringify(sent).length).toBeLessThan(400 * 3.5);

    await expect(e.chat({ sessionKey: "s", systemPrompt: "SYS", history: [{ role: "user", text: "x".repeat(5000) }] })).rejects.toBeInstanceOf(InputError);
  });

  it("rejects a bad base URL and credentials in the URL", () => {
    expect(() => new OpenAiEngine({ baseUrl: "not a url", model: "m" })).toThrow(ModelError);
    expect(() => new OpenAiEngine({ baseUrl: "http://user:pw@127.0.0.1/v1", model: "m" })).toThrow(/API key/);
  });
});
