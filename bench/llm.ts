/**
 * LLM engine benchmark on a generated random-weight llama model (CPU).
 *
 *   node bench/llm.ts [--dim 512] [--layers 8] [--tokens 64] [--threads N] [--history 2000] [--parallel 4] [--f16]
 *
 * Measures (a) time to first token and generation speed through Hearth's whole pipeline (the path a
 * console message takes: access policy, redaction, per-chat queue, SQLite memory, streaming reply)
 * vs. LlamaCppEngine alone vs. raw node-llama-cpp (`LlamaContextSequence.evaluate`), all on the same
 * prompt and settings, (b) the time to
 * first token of a follow-up turn after ~2,000 tokens of history with the warm sequence vs. a cold
 * re-evaluation, and (c) aggregate tokens/s of several chats at once vs. one. Prints a table, then
 * one JSON line. `runLlmBench` is exported so the whole-pipeline benchmark can reuse it.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { getLlama, type Llama } from "node-llama-cpp";
import { configureLogger } from "../src/core/logger.ts";
import { HearthApp } from "../src/app/hearthApp.ts";
import { loadConfig } from "../src/core/config.ts";
import type { Transport } from "../src/core/transport.ts";
import type { ChatRequest, ChatTurn, LlmEngine } from "../src/llm/engine.ts";
import { LlamaCppEngine } from "../src/llm/llamaCppEngine.ts";
import { writeTestModel } from "../tests/fixtures/gguf/writeTestModel.ts";

/** Options of {@link runLlmBench}. */
export interface LlmBenchOptions {
  /** Hidden size of the generated model. Default 512. */
  dim?: number;
  /** Transformer blocks. Default 8. */
  layers?: number;
  /** Tokens generated per measured answer. Default 64. */
  tokens?: number;
  /** CPU threads (default: node-llama-cpp's choice). */
  threads?: number;
  /** Tokens of history before the warm/cold follow-up. Default 2000. */
  historyTokens?: number;
  /** Concurrent chats for the aggregate throughput. Default 4. */
  parallel?: number;
  /** Store weights as f16 instead of f32. */
  f16?: boolean;
  /** Existing node-llama-cpp instance to reuse. */
  llama?: Llama;
}

/** Numbers measured by {@link runLlmBench} (milliseconds and tokens per second). */
export interface LlmBenchResult {
  model: { dim: number; layers: number; fileMB: number; tensorType: "f32" | "f16"; threads: number | "auto" };
  engine: { ttftMs: number; tokensPerSecond: number };
  raw: { ttftMs: number; tokensPerSecond: number };
  /** The same question through Hearth's whole pipeline (access policy, redaction, queue, memory, streaming). */
  pipeline: { ttftMs: number; tokensPerSecond: number; overheadPercent: number };
  followUp: { historyTokens: number; warmTtftMs: number; coldTtftMs: number; speedup: number; warmEvaluatedTokens: number; coldEvaluatedTokens: number };
  parallel: { chats: number; singleTokensPerSecond: number; aggregateTokensPerSecond: number; scaling: number };
}

interface Timed {
  ttftMs: number;
  tokensPerSecond: number;
  generated: number;
  evaluated: number | undefined;
  totalMs: number;
}

async function timedChat(engine: LlamaCppEngine, sessionKey: string, history: ChatTurn[], tokens: number, systemPrompt = "You are Hearth, a helpful family assistant."): Promise<Timed> {
  const start = performance.now();
  let first = 0;
  const res = await engine.chat({
    sessionKey,
    systemPrompt,
    history,
    maxTokens: tokens,
    temperature: 0,
    onTextChunk: () => {
      if (first === 0) first = performance.now();
    },
  });
  const end = performance.now();
  first ||= end;
  // End-to-end rate (prompt included): chunk timing is not token timing, since node-llama-cpp may
  // hold text back briefly while checking for stop triggers.
  return { ttftMs: first - start, tokensPerSecond: (res.generatedTokens * 1000) / (end - start), generated: res.generatedTokens, evaluated: res.evaluatedPromptTokens, totalMs: end - start };
}

/**
 * One message through the whole Hearth pipeline (as `hearth chat` runs it) with a transport that
 * timestamps the first streamed text and the final answer. Each run is a new chat so the prompt is
 * the same size every time. Returns the request the engine received, so the engine and raw runs
 * can be given exactly the same prompt.
 */
async function pipelineRuns(engine: LlamaCppEngine, dir: string, tokens: number, runs: number): Promise<{ timed: Timed[]; request: ChatRequest }> {
  await writeFile(join(dir, "config.yaml"), `log: { level: silent }\nllm: { maxTokens: ${tokens}, temperature: 0 }\npeople: [{ name: ann, role: admin, identities: ["console:ann"] }]\n`);
  const loaded = loadConfig({ env: { HEARTH_HOME: join(dir, "home"), HEARTH_CONFIG: join(dir, "config.yaml") } });
  let request: ChatRequest | undefined;
  // The app owns its engine; this view lets it use the bench's engine without disposing it.
  const view: LlmEngine = {
    description: engine.description,
    contextSize: engine.contextSize,
    chat: (r) => ((request = r), engine.chat(r)),
    json: (r) => engine.json(r),
    countTokens: (t) => engine.countTokens(t),
    forgetSession: (k) => engine.forgetSession(k),
    onPrompt: (l) => engine.onPrompt(l),
    dispose: async () => {},
  };
  const app = new HearthApp({ loaded, engine: view });
  const timed: Timed[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      let first = 0;
      const transport: Transport = {
        kind: "test",
        start: async () => {},
        send: async () => {
          first ||= performance.now();
          return { id: "x", edit: async () => {} };
        },
        dispose: async () => {},
      };
      const chatId = `bench:${i}`;
      const start = performance.now();
      await app.handle(
        { id: `m${i}`, transport: "test", chatId, chatType: "direct", encrypted: false, sender: { id: "console:ann", displayName: "ann" }, text: "What is on the family calendar this week, and is the kitchen light off?", attachments: [], mentionsBot: true, timestamp: Date.now() },
        transport,
      );
      const end = performance.now();
      await engine.forgetSession(chatId);
      timed.push({ ttftMs: (first || end) - start, tokensPerSecond: (tokens * 1000) / (end - start), generated: tokens, evaluated: undefined, totalMs: end - start });
    }
  } finally {
    await app.dispose(0);
  }
  return { timed, request: request! };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Run the benchmark and return its numbers (see the file comment). */
export async function runLlmBench(options: LlmBenchOptions = {}): Promise<LlmBenchResult> {
  const dim = options.dim ?? 512;
  const layers = options.layers ?? 8;
  const tokens = options.tokens ?? 64;
  const historyTokens = options.historyTokens ?? 2000;
  const parallel = options.parallel ?? 4;
  const dir = await mkdtemp(join(tmpdir(), "hearth-bench-llm-"));
  const llama = options.llama ?? (await getLlama({ gpu: false, build: "never" }));
  try {
    const info = await writeTestModel(join(dir, "bench.gguf"), { embeddingDim: dim, layers, headCount: Math.max(1, dim / 64), contextLength: 8192, tensorType: options.f16 ? "f16" : "f32", seed: 42 });
    const contextSize = Math.max(4096, historyTokens * 2);
    const engine = await LlamaCppEngine.create({ modelPath: info.path, llama, contextSize, maxSequences: parallel, ...(options.threads ? { threads: options.threads } : {}), temperature: 0 });
    try {
      let prompt = "";
      engine.onPrompt((e) => (prompt = e.prompt));
      const question: ChatTurn[] = [{ role: "user", text: "What is on the family calendar this week, and is the kitchen light off?" }];

      // (a) pipeline vs engine vs raw on exactly the same prompt; warm-up once so lazy
      // allocations are not measured.
      await timedChat(engine, "warmup", question, 4);
      const piped = await pipelineRuns(engine, dir, tokens, 3);
      const sameRequest = piped.request;
      const engineRuns: Timed[] = [];
      for (let i = 0; i < 3; i++) {
        await engine.forgetSession("a");
        engineRuns.push(await timedChat(engine, "a", sameRequest.history, tokens, sameRequest.systemPrompt));
      }
      const promptTokens = engine.llamaModel.tokenize(prompt, true);
      const rawCtx = await engine.llamaModel.createContext({ contextSize: 1024, sequences: 1, ...(options.threads ? { threads: options.threads } : {}) });
      const rawRuns: Array<{ ttftMs: number; tokensPerSecond: number }> = [];
      try {
        const seq = rawCtx.getSequence();
        for (let i = 0; i < 3; i++) {
          await seq.clearHistory();
          const start = performance.now();
          let first = 0;
          let n = 0;
          for await (const _token of seq.evaluate(promptTokens, { temperature: 0 })) {
            if (n === 0) first = performance.now();
            if (++n >= tokens) break;
          }
          const end = performance.now();
          rawRuns.push({ ttftMs: first - start, tokensPerSecond: (n * 1000) / (end - start) });
        }
      } finally {
        await rawCtx.dispose();
      }

      // (b) follow-up after a long history: warm sequence vs. cold re-evaluation.
      const history: ChatTurn[] = [];
      let i = 0;
      while (engine.countTokens(history.map((t) => t.text).join(" ")) < historyTokens) {
        history.push({ role: i % 2 === 0 ? "user" : "assistant", text: `Turn ${i}: the kitchen light is on, the family is home, and the receipt total for the pharmacy was ${i}.50 dollars. ` });
        i++;
      }
      if (history.at(-1)!.role === "assistant") history.pop();
      const coldFirst = await timedChat(engine, "long", history, 8);
      const followUp: ChatTurn[] = [...history, { role: "assistant", text: "Noted." }, { role: "user", text: "And what about the hall light?" }];
      void coldFirst;
      const warm = await timedChat(engine, "long", followUp, 8);
      await engine.forgetSession("long");
      const cold = await timedChat(engine, "long", followUp, 8);

      // (c) aggregate throughput: N chats at once vs. one.
      const single = await timedChat(engine, "p0", question, tokens);
      const started = performance.now();
      const runs = await Promise.all(Array.from({ length: parallel }, (_, k) => timedChat(engine, `q${k}`, [{ role: "user", text: `Question ${k}: ${question[0]!.text}` }], tokens)));
      const wall = performance.now() - started;
      const aggregate = (runs.reduce((a, r) => a + r.generated, 0) * 1000) / wall;
      const singleRate = (single.generated * 1000) / single.totalMs;

      return {
        model: { dim, layers, fileMB: Math.round(info.fileBytes / 1e5) / 10, tensorType: options.f16 ? "f16" : "f32", threads: options.threads ?? "auto" },
        engine: { ttftMs: median(engineRuns.map((r) => r.ttftMs)), tokensPerSecond: median(engineRuns.map((r) => r.tokensPerSecond)) },
        pipeline: {
          ttftMs: median(piped.timed.map((r) => r.ttftMs)),
          tokensPerSecond: median(piped.timed.map((r) => r.tokensPerSecond)),
          overheadPercent: (100 * (median(piped.timed.map((r) => r.totalMs)) - median(engineRuns.map((r) => r.totalMs)))) / median(engineRuns.map((r) => r.totalMs)),
        },
        raw: { ttftMs: median(rawRuns.map((r) => r.ttftMs)), tokensPerSecond: median(rawRuns.map((r) => r.tokensPerSecond)) },
        followUp: {
          historyTokens: engine.countTokens(followUp.map((t) => t.text).join(" ")),
          warmTtftMs: warm.ttftMs,
          coldTtftMs: cold.ttftMs,
          speedup: cold.ttftMs / warm.ttftMs,
          warmEvaluatedTokens: warm.evaluated ?? -1,
          coldEvaluatedTokens: cold.evaluated ?? -1,
        },
        // Both sides include their prompt evaluation, so they compare like with like.
        parallel: { chats: parallel, singleTokensPerSecond: singleRate, aggregateTokensPerSecond: aggregate, scaling: aggregate / singleRate },
      };
    } finally {
      await engine.dispose();
    }
  } finally {
    if (!options.llama) await llama.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

const r1 = (n: number): string => n.toFixed(1);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dim: { type: "string" },
      layers: { type: "string" },
      tokens: { type: "string" },
      threads: { type: "string" },
      history: { type: "string" },
      parallel: { type: "string" },
      f16: { type: "boolean" },
    },
  });
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  configureLogger({ level: "warn" });
  const r = await runLlmBench({
    dim: num(values.dim),
    layers: num(values.layers),
    tokens: num(values.tokens),
    threads: num(values.threads),
    historyTokens: num(values.history),
    parallel: num(values.parallel),
    f16: values.f16,
  });
  const rows: Array<[string, string, string]> = [
    ["model", `dim ${r.model.dim} × ${r.model.layers} layers, ${r.model.tensorType}, ${r.model.fileMB} MB`, `threads ${r.model.threads}`],
    ["TTFT pipeline / engine / raw (ms)", `${r1(r.pipeline.ttftMs)} / ${r1(r.engine.ttftMs)} / ${r1(r.raw.ttftMs)}`, `engine overhead ${r1(r.engine.ttftMs - r.raw.ttftMs)} ms`],
    ["tok/s pipeline (whole answer)", r1(r.pipeline.tokensPerSecond), `pipeline vs engine time: ${r.pipeline.overheadPercent >= 0 ? "+" : ""}${r1(r.pipeline.overheadPercent)} %`],
    ["tok/s engine / raw (incl. prompt)", `${r1(r.engine.tokensPerSecond)} / ${r1(r.raw.tokensPerSecond)}`, `${r1((100 * r.engine.tokensPerSecond) / r.raw.tokensPerSecond)} % of raw`],
    [`follow-up TTFT after ${r.followUp.historyTokens} tok`, `warm ${r1(r.followUp.warmTtftMs)} / cold ${r1(r.followUp.coldTtftMs)} ms`, `${r1(r.followUp.speedup)}× (evaluated ${r.followUp.warmEvaluatedTokens} vs ${r.followUp.coldEvaluatedTokens} tok)`],
    [`throughput 1 vs ${r.parallel.chats} chats (tok/s)`, `${r1(r.parallel.singleTokensPerSecond)} / ${r1(r.parallel.aggregateTokensPerSecond)}`, `${r1(r.parallel.scaling)}×`],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  console.log(JSON.stringify({ bench: "llm", ...r }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
