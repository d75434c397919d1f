import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadConfig, type LoadedConfig } from "../../src/core/config.ts";

/** A throwaway HEARTH_HOME with a config file written from `config`. */
export function tempHome(config: Record<string, unknown> = {}, extraEnv: Record<string, string> = {}): LoadedConfig & { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "hearth-test-"));
  const file = join(dir, "config.yaml");
  writeFileSync(file, stringify(config));
  const loaded = loadConfig({ env: { HEARTH_HOME: join(dir, "data"), HEARTH_CONFIG: file, ...extraEnv } });
  return { ...loaded, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The people config used by flow tests: an admin parent and a child. */
export const family = [
  { name: "ann", role: "admin", identities: ["console:ann"] },
  { name: "kid", role: "child", identities: ["console:kid"] },
];
