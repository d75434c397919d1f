import { describe, it, expect, afterAll } from "vitest";
import { spawn } from "node:child_process";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir, openLedger } from "./helpers.ts";

const child = fileURLToPath(new URL("./crashChild.ts", import.meta.url));
const t = tempDir("hearth-crash-");
afterAll(() => t.cleanup());

/** Start the filing loop, wait until it is filing, then SIGKILL it at a random moment. */
async function runAndKill(keyHex: string): Promise<void> {
  const proc = spawn(process.execPath, [child, t.dir, keyHex], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
    proc.on("exit", (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
  });
  await new Promise((r) => setTimeout(r, randomInt(30, 600)));
  const exited = new Promise<NodeJS.Signals | null>((r) => proc.on("exit", (_c, sig) => r(sig)));
  proc.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
}

describe("crash safety", () => {
  it("after SIGKILL at random points, every row has a readable image with the right hash and no orphans remain", { timeout: 300_000 }, async () => {
    const key = randomBytes(32);
    let rowsSeen = 0;
    for (let iteration = 0; iteration < 6; iteration++) {
      await runAndKill(key.toString("hex"));
      const { ledger } = await openLedger(t.dir, key);
      ledger.reconcile();
      const rows = ledger.list();
      expect(rows.length).toBeGreaterThanOrEqual(rowsSeen); // committed rows survive
      rowsSeen = rows.length;
      for (const r of rows) {
        expect(r.imageMissing).toBe(false);
        const bytes = ledger.readImage(r.id);
        expect(createHash("sha256").update(bytes).digest("hex")).toBe(r.imageSha256);
      }
      const refs = new Set(rows.map((r) => r.imageRef));
      expect(new Set(ledger.images.listRefs())).toEqual(refs);
      expect(readdirSync(path.join(t.dir, "images")).filter((f) => f.startsWith(".tmp-"))).toEqual([]);
      ledger.dispose();
    }
    expect(rowsSeen).toBeGreaterThan(0);
  });
});
