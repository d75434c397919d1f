import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configureLogger, getLogger, redactForLog } from "../../src/core/logger.ts";
import { installLogRedactor } from "../../src/vault/logRedaction.ts";
import { KeyFileMasterKey } from "../../src/vault/masterKeyFile.ts";
import { Vault } from "../../src/vault/vault.ts";
import { makeTempDir } from "./helpers/tempDir.ts";

describe("installLogRedactor", { timeout: 60_000 }, () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => (tmp = makeTempDir()));
  afterEach(() => tmp.cleanup());

  it("keeps secret values (also ones added later, JSON-escaped ones) out of log lines", async () => {
    const lines: string[] = [];
    configureLogger({ level: "info", destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) as never });
    const vault = await Vault.create(join(tmp.dir, "vault.json"), new KeyFileMasterKey(join(tmp.dir, "k.key")));
    await vault.add("quote", 'pa"ss\\word-123');
    const uninstall = installLogRedactor(vault);
    await vault.add("later", "added-after-install-42");
    const log = getLogger("test");
    log.info({ detail: 'pa"ss\\word-123' }, "request failed with added-after-install-42");
    expect(lines.at(-1)).toContain("{{secret:later}}");
    expect(lines.at(-1)).toContain("{{secret:quote}}");
    expect(lines.join("")).not.toContain("added-after-install-42");
    expect(redactForLog("x added-after-install-42")).toBe("x {{secret:later}}");
    uninstall();
    expect(redactForLog("x added-after-install-42")).toBe("x added-after-install-42");
    vault.dispose();
    configureLogger({ level: "silent" });
  });
});
