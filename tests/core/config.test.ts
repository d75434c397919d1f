import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { configSchema, loadConfig, parseConfig, shippedConfigDir } from "../../src/core/config.ts";
import { ConfigError } from "../../src/core/errors.ts";

function dir() {
  return mkdtempSync(join(tmpdir(), "hearth-cfg-"));
}

describe("config", () => {
  it("config/default.yaml documents exactly the schema defaults", () => {
    const text = readFileSync(join(shippedConfigDir, "default.yaml"), "utf8");
    const fromFile = parse(text);
    expect(parseConfig(fromFile)).toEqual(parseConfig({}));
    // every top-level key of the schema appears in the documented file
    for (const key of Object.keys(configSchema.shape)) expect(Object.keys(fromFile)).toContain(key);
    // and carries no secret values
    expect(text).not.toMatch(/token:\s*["']?[A-Za-z0-9:_-]{20,}/);
  });

  it("names the key, the bad value and the fix", () => {
    const d = dir();
    const file = join(d, "c.yaml");
    writeFileSync(file, "llm:\n  contextSize: lots\nreceipts:\n  dateOrder: YMD\n");
    let err: unknown;
    try {
      loadConfig({ env: { HEARTH_CONFIG: file, HEARTH_HOME: d } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as ConfigError).userMessage;
    expect(msg).toContain(file);
    expect(msg).toMatch(/llm\.contextSize: got "lots" — expected a number of tokens \(256 or more\) or "auto"/);
    expect(msg).toMatch(/receipts\.dateOrder: got "YMD"/);
  });

  it("catches misspelled options", () => {
    expect(() => parseConfig({ llm: { contextSise: 2048 } })).toThrow(/unknown option llm\.contextSise/);
  });

  it("reports YAML syntax errors with a line number", () => {
    const d = dir();
    const file = join(d, "c.yaml");
    writeFileSync(file, "llm:\n  model: [unclosed\n");
    expect(() => loadConfig({ env: { HEARTH_CONFIG: file } })).toThrow(/not valid YAML.*line/);
  });

  it("a missing explicit config file is an error that says what to do", () => {
    expect(() => loadConfig({ env: { HEARTH_CONFIG: "/nonexistent/hearth.yaml" } })).toThrow(/does not exist.*copy config\/default.yaml/);
  });

  it("a missing default config file is fine: defaults apply", () => {
    const d = dir();
    const loaded = loadConfig({ env: { HOME: d, XDG_CONFIG_HOME: join(d, "cfg"), XDG_DATA_HOME: join(d, "data") } });
    expect(loaded.sourceFile).toBeNull();
    expect(loaded.config.llm.contextSize).toBe(8192);
    expect(loaded.paths.dataDir).toBe(join(d, "data", "hearth"));
  });

  it("environment overrides win over the file; HEARTH_HOME picks the data folder", () => {
    const d = dir();
    const file = join(d, "c.yaml");
    writeFileSync(file, "llm:\n  model: /models/a.gguf\n  contextSize: 2048\n");
    const loaded = loadConfig({ env: { HEARTH_CONFIG: file, HEARTH_HOME: join(d, "home"), HEARTH_MODEL: "/models/b.gguf", HEARTH_TRACE_PROMPTS: join(d, "trace.jsonl") } });
    expect(loaded.config.llm.model).toBe("/models/b.gguf");
    expect(loaded.config.llm.contextSize).toBe(2048);
    expect(loaded.config.tracePrompts).toBe(join(d, "trace.jsonl"));
    expect(loaded.paths.database).toBe(join(d, "home", "hearth.db"));
    expect(loaded.envOverrides).toEqual(expect.arrayContaining(["HEARTH_MODEL", "HEARTH_HOME", "HEARTH_TRACE_PROMPTS"]));
  });

  it("rejects people with malformed identities", () => {
    expect(() => parseConfig({ people: [{ name: "ann", identities: ["ann@example.org"] }] })).toThrow(/people\.0\.identities\.0/);
  });
});
