import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { writeTestModel } from "../fixtures/gguf/writeTestModel.ts";

const bin = resolve(import.meta.dirname, "../../bin/hearth.js");
let dir: string;
let model: string;

function hearth(args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    input: opts.input ?? "",
    encoding: "utf8",
    timeout: 240_000,
    env: { ...process.env, HEARTH_HOME: join(dir, "data"), HEARTH_CONFIG: join(dir, "config.yaml"), HEARTH_MODEL: model, CI: "true", ...opts.env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Like {@link hearth}, without blocking the event loop (the test itself serves HTTP). */
function hearthAsync(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, HEARTH_HOME: join(dir, "data"), HEARTH_CONFIG: join(dir, "config.yaml"), HEARTH_MODEL: model, CI: "true", ...env },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => (err += String(d)));
    child.on("close", (code) => resolvePromise({ code, out, err }));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "hearth-cli-"));
  model = join(dir, "tiny.gguf");
  await writeTestModel(model, { seed: 7 });
  writeFileSync(
    join(dir, "config.yaml"),
    ["log:", "  level: warn", "vault:", "  keychain: false", "llm:", "  gpu: false", "  contextSize: 1024", "  maxTokens: 12", "  warmChats: 1", "  threads: 1", "people:", "  - name: ann", "    role: admin", '    identities: ["console:ann"]', ""].join("\n"),
  );
});

describe("hearth CLI", () => {
  it("--help lists the subcommands", () => {
    const r = hearth(["--help"]);
    expect(r.code).toBe(0);
    for (const cmd of ["start", "chat", "doctor", "vault", "receipts", "matrix"]) expect(r.out).toContain(cmd);
  });

  it("chat answers with the generated model and the conversation survives a restart", () => {
    const r1 = hearth(["chat", "--as", "ann"], { input: "hello hearth\n/whoami\n" });
    expect(r1.err).not.toMatch(/error/i);
    expect(r1.code).toBe(0);
    const replies = r1.out.split("hearth> ").slice(1);
    expect(replies.length).toBe(2);
    expect(replies[1]).toMatch(/You are Ann \(ann\), role admin/);
    const r2 = hearth(["chat", "--as", "ann"], { input: "second visit\n" });
    expect(r2.code).toBe(0);
    const db = new Database(join(dir, "data", "hearth.db"), { readonly: true });
    const rows = db.prepare("SELECT role, text FROM messages WHERE chat_id = 'console:ann' ORDER BY id").all() as Array<{ role: string; text: string }>;
    db.close();
    expect(rows.map((r) => r.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(rows[0]!.text).toBe("hello hearth");
    expect(rows[2]!.text).toBe("second visit");
  });

  it("without a vault, a photo gets a reply saying why receipts are off", () => {
    const photo = resolve(import.meta.dirname, "../fixtures/receipts/sroie/X51005712017.jpg");
    const r = hearth(["chat", "--as", "ann"], { input: `/image ${photo}\n` });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/hearth> I can't file receipts yet: .*vault/);
  });

  it("shuts down cleanly on SIGTERM while chatting", async () => {
    const child = spawn(process.execPath, [bin, "chat", "--as", "ann"], {
      env: { ...process.env, HEARTH_HOME: join(dir, "data"), HEARTH_CONFIG: join(dir, "config.yaml"), HEARTH_MODEL: model, CI: "true" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stdin.write("are you there?\n");
    const deadline = Date.now() + 120_000;
    while (!out.includes("hearth> ") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain("hearth> ");
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const db = new Database(join(dir, "data", "hearth.db"));
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    expect((db.prepare("SELECT COUNT(*) AS n FROM messages WHERE text = 'are you there?'").get() as { n: number }).n).toBe(1);
    db.close();
  }, 180_000);

  it("an unreadable model file is a clear error naming the path", () => {
    const r = hearth(["chat", "--as", "ann"], { input: "hi\n", env: { HEARTH_MODEL: join(dir, "missing.gguf") } });
    expect(r.code).toBe(2);
    expect(r.err).toContain(join(dir, "missing.gguf"));
    expect(r.err).not.toMatch(/at .*\.ts:\d+/); // no stack trace for a known problem
  });

  it("a file that is not GGUF is refused with the path", () => {
    const bogus = join(dir, "notamodel.gguf");
    writeFileSync(bogus, "this is text, not a model");
    const r = hearth(["chat", "--as", "ann"], { input: "hi\n", env: { HEARTH_MODEL: bogus } });
    expect(r.code).toBe(2);
    expect(r.err).toContain(bogus);
  });

  it("doctor reports the backend, whether the model fits, keychain and configuration", () => {
    const r = hearth(["doctor", "--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { checks: Array<{ name: string; status: string; detail: string }>; gpu: { backend: string; model: { fitsRam: boolean } } };
    const byName = new Map(report.checks.map((c) => [c.name, c]));
    expect(byName.get("compute")?.status).toBe("ok");
    expect(report.gpu.backend).toBe("cpu");
    expect(byName.get("model fit")?.status).toBe("ok");
    expect(byName.get("model fit")?.detail).toContain(model);
    expect(byName.get("keychain")).toBeDefined();
    expect(byName.get("people")?.detail).toContain("ann (admin)");
  });

  it("doctor checks an OpenAI-compatible server is answering", async () => {
    const { createServer } = await import("node:http");
    const server = createServer((req, res) => {
      res.writeHead(req.url === "/v1/models" ? 200 : 404, { "content-type": "application/json" });
      res.end(JSON.stringify({ data: [{ id: "m" }] }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const up = await hearthAsync(["doctor", "--json"], { HEARTH_LLM_BACKEND: "openai", HEARTH_OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` });
      const model = (JSON.parse(up.out) as { checks: Array<{ name: string; status: string; detail: string }> }).checks.find((c) => c.name === "model");
      expect(model).toMatchObject({ status: "ok" });
    } finally {
      await new Promise((r) => server.close(r));
    }
    const down = hearth(["doctor", "--json"], { env: { HEARTH_LLM_BACKEND: "openai", HEARTH_OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` } });
    expect(down.code).toBe(1);
    const model = (JSON.parse(down.out) as { checks: Array<{ name: string; status: string; detail: string }> }).checks.find((c) => c.name === "model");
    expect(model?.status).toBe("fail");
    expect(model?.detail).toMatch(/not reachable/);
  });

  it("a bad config is reported with the key and exits non-zero", () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "chat:\n  queueLimit: zero\n");
    const r = hearth(["chat"], { env: { HEARTH_CONFIG: bad } });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/chat\.queueLimit: got "zero"/);
  });

  it("the prompt trace records what the model was sent", () => {
    const trace = join(dir, "trace.jsonl");
    const r = hearth(["chat", "--as", "ann"], { input: "trace me please\n", env: { HEARTH_TRACE_PROMPTS: trace } });
    expect(r.code).toBe(0);
    const lines = readFileSync(trace, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { prompt: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.at(-1)!.prompt).toContain("trace me please");
  });
});
