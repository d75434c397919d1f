// Child process for crash.test.ts: files receipts in a loop until it is SIGKILLed.
import { randomBytes, randomInt } from "node:crypto";
import path from "node:path";
import { Ledger } from "../../src/receipts/ledger.ts";
import { parsedFor } from "./helpers.ts";

const [dir, keyHex] = process.argv.slice(2);
if (!dir || !keyHex) throw new Error("usage: crashChild DIR KEYHEX");
const ledger = await Ledger.open({ dbPath: path.join(dir, "hsa.sqlite"), imageDir: path.join(dir, "images"), imageKey: Buffer.from(keyHex, "hex") });
process.stdout.write("ready\n");
for (let i = 0; ; i++) {
  const bytes = randomBytes(randomInt(20_000, 400_000));
  const amount = `${randomInt(1, 999)}.${String(randomInt(0, 99)).padStart(2, "0")}`;
  ledger.fileReceipt({ bytes, parsed: parsedFor(`CRASH SHOP ${process.pid}-${i}`, "01/02/2024", amount), patient: "Ann", source: { transport: "test" }, force: true });
  if (i % 5 === 0) await new Promise((r) => setImmediate(r));
}
