#!/usr/bin/env node
// node-llama-cpp lists prebuilt binaries for every platform as optional dependencies. Where the
// npm registry in use lacks some of them (as this project's build mirror does for macOS, Windows
// and riscv64), `npm install` leaves them out of package-lock.json and `npm ci` then refuses the
// lockfile ("Missing: @node-llama-cpp/mac-x64@ from lock file"). This puts the entries back, with
// os/cpu fields so npm skips them on other platforms. Run it after `npm install` if `npm ci` fails
// that way: `node scripts/restore-lockfile-platforms.mjs`.
import { readFileSync, writeFileSync } from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const main = lock.packages["node_modules/node-llama-cpp"];
if (!main) throw new Error("node-llama-cpp is not in package-lock.json");
const platforms = {
  "linux-riscv64": [["linux"], ["riscv64"]],
  "mac-arm64-metal": [["darwin"], ["arm64"]],
  "mac-x64": [["darwin"], ["x64"]],
  "win-arm64": [["win32"], ["arm64"]],
  "win-x64": [["win32"], ["x64"]],
  "win-x64-cuda": [["win32"], ["x64"]],
  "win-x64-cuda-ext": [["win32"], ["x64"]],
  "win-x64-vulkan": [["win32"], ["x64"]],
};
let added = 0;
for (const [name, version] of Object.entries(main.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  const short = name.replace("@node-llama-cpp/", "");
  if (lock.packages[key] || !platforms[short]) continue;
  const [os, cpu] = platforms[short];
  lock.packages[key] = { version, cpu, license: "MIT", optional: true, os, engines: { node: ">=20.0.0" } };
  added++;
}
if (added === 0) {
  console.log("nothing to restore");
  process.exit(0);
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)));
lock.packages = sorted;
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`restored ${added} platform entries`);
