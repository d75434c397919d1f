import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import Database from "better-sqlite3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openVault } from "../../src/app/openVault.ts";
import { buildApp, type Runtime } from "../../src/app/runtime.ts";
import { ConsoleTransport } from "../../src/bots/console/consoleTransport.ts";
import { configureLogger } from "../../src/core/logger.ts";
import { ModelGateway } from "../../src/core/modelGateway.ts";
import { LlamaCppEngine } from "../../src/llm/llamaCppEngine.ts";
import { writeTestModel } from "../fixtures/gguf/writeTestModel.ts";
import { ScriptedEngine } from "../helpers/scriptedEngine.ts";
import { tempHome } from "../helpers/tempHome.ts";

/**
 * Canary secrets through the real engine and the console transport: a secret pasted in chat, a
 * stored secret typed in an encoded form, and a secret echoed back by a tool must never appear in
 * the prompt trace, the database files or the log output (raw bytes are searched).
 */
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const rand = (n: number) => Array.from(randomBytes(n), (b) => ALNUM[b % ALNUM.length]).join("");
const pasted = `ghp_${rand(36)}`; // GitHub token format: detected, never seen before
const stored = `hs_${rand(30)}`; // already in the vault
// Printed on a photographed receipt: random dictionary words, which OCR reads reliably (random
// letter soup gets misread, and a misread canary would prove nothing).
// (Space-separated like a passphrase: 40 of 40 such canaries were read exactly in a trial, where
// hyphens and words starting with O sometimes came back as " - " or "0".)
const WORDS = ["MAPLE", "RIVER", "STONE", "CLOUD", "TIGER", "PLANET", "GARDEN", "SILVER", "CANDLE", "FOREST", "WINTER", "BRIDGE", "MARKET", "PENCIL"];
const printed = Array.from(randomBytes(4), (b) => WORDS[b % WORDS.length]).join(" ");
const logs: string[] = [];
let home: ReturnType<typeof tempHome>;
let rt: Runtime;
let output = "";

function variants(secret: string): string[] {
  const b = Buffer.from(secret);
  return [secret, b.toString("base64"), b.toString("base64url"), b.toString("hex"), encodeURIComponent(secret)];
}

function everything(): string {
  const dataFiles = readdirSync(home.paths.dataDir)
    .filter((f) => !f.startsWith("vault"))
    .map((f) => join(home.paths.dataDir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => readFileSync(f).toString("latin1"));
  const trace = join(home.dir, "trace.jsonl");
  return [...dataFiles, existsSync(trace) ? readFileSync(trace, "utf8") : "", logs.join(""), output].join("\n");
}

beforeAll(async () => {
  configureLogger({ level: "debug", destination: { write: (s: string) => void logs.push(s) } });
  home = tempHome({ log: { level: "debug" }, people: [{ name: "ann", role: "admin", identities: ["console:ann"] }] });
  const modelPath = join(home.dir, "tiny.gguf");
  await writeTestModel(modelPath, { seed: 11 });
  const keyFile = join(home.dir, "vault.key");
  writeFileSync(keyFile, randomBytes(32));
  chmodSync(keyFile, 0o600);
  const loaded = {
    ...home,
    vaultEnv: { ...home.vaultEnv, keyFile },
    config: {
      ...home.config,
      tracePrompts: join(home.dir, "trace.jsonl"),
      vault: { ...home.config.vault, keychain: false },
      llm: { ...home.config.llm, model: modelPath, gpu: false as const, contextSize: 1024, maxTokens: 8, warmChats: 1, threads: 1 },
    },
  };
  const vault = await openVault(loaded, { create: true });
  await vault.add("home_secret", stored, { allowHosts: ["example.invalid"] });
  await vault.add("member_id", printed, { allowHosts: [] });
  vault.dispose();
  rt = await buildApp(loaded);
}, 180_000);

afterAll(async () => {
  await rt?.app.dispose(100);
  home?.cleanup();
});

describe("canary secrets", () => {
  it("a pasted token is captured into the vault and only its handle goes further", async () => {
    const input = new PassThrough();
    const out = new PassThrough();
    out.on("data", (d) => (output += String(d)));
    let closed!: () => void;
    const done = new Promise<void>((r) => (closed = r));
    const transport = new ConsoleTransport({ user: "ann", input, output: out, onClose: () => closed() });
    await rt.app.attach(transport);
    const b64 = Buffer.from(stored).toString("base64");
    input.end(`here is my token ${pasted} please keep it\nthe other one is ${b64} and split ${stored.slice(0, 10)} ${stored.slice(10)} ok\n`);
    await done;
    expect(output).toMatch(/locked it in the vault as \{\{secret:pasted_github[a-z_]*_1\}\}/);
    expect(rt.vault!.list().some((e) => e.name.startsWith("pasted_github"))).toBe(true);
    const trace = readFileSync(join(home.dir, "trace.jsonl"), "utf8");
    expect(trace).toMatch(/\{\{secret:pasted_github[a-z_]*_1\}\}/);
    expect(trace).toContain("{{secret:home_secret}}");
  }, 180_000);

  it("a secret printed on a photographed receipt is redacted in the OCR text before it is stored", async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="560"><rect width="100%" height="100%" fill="white"/>
      <g font-family="DejaVu Sans Mono" font-size="34" fill="black">
      <text x="40" y="70">CORNER PHARMACY</text><text x="40" y="140">DATE 03/14/2026</text>
      <text x="40" y="210">MEMBER ID</text><text x="40" y="280">${printed}</text><text x="40" y="350">ASPIRIN 81MG    12.34</text>
      <text x="40" y="420">TOTAL          $12.34</text></g></svg>`;
    const image = join(home.dir, "receipt.png");
    await sharp(Buffer.from(svg)).png().toFile(image);
    const input = new PassThrough();
    const out = new PassThrough();
    out.on("data", (d) => (output += String(d)));
    let closed!: () => void;
    const done = new Promise<void>((r) => (closed = r));
    await rt.app.attach(new ConsoleTransport({ user: "ann", input, output: out, onClose: () => closed() }));
    input.end(`/image ${image}\n`);
    await done;
    expect(output).toMatch(/Filed as receipt #\d+/);
    const db = new Database(join(home.paths.dataDir, "hsa.sqlite"), { readonly: true });
    const rows = db.prepare("SELECT * FROM receipts").all() as Array<Record<string, unknown>>;
    db.close();
    const raw = JSON.stringify(rows);
    expect(raw).toContain("{{secret:member_id}}");
    expect(raw).not.toContain(printed);
  }, 180_000);

  it("a tool result echoing a secret is redacted before the model sees it", async () => {
    const engine = new ScriptedEngine(async (req) => `tool said: ${await req.functions!["echo"]!.handler({})}`);
    const trace = join(home.dir, "tool-trace.jsonl");
    const gateway = new ModelGateway({ engine, redact: () => (t) => rt.vault!.redactor().redact(t).text, traceFile: trace });
    const result = await gateway.chat({
      sessionKey: "tool",
      systemPrompt: "s",
      history: [{ role: "user", text: "call the tool" }],
      functions: { echo: { description: "echoes the token", handler: async () => `{"token":"${stored}"}` } },
    });
    expect(result.text).toContain("{{secret:home_secret}}");
    expect(result.text).not.toContain(stored);
    expect(readFileSync(trace, "utf8")).not.toContain(stored);
  });

  it("no canary reaches the trace, the database or the logs, in any encoding", () => {
    const all = everything();
    expect(all.length).toBeGreaterThan(1000);
    for (const secret of [pasted, stored, printed]) for (const v of variants(secret)) expect(all).not.toContain(v);
  });
});
