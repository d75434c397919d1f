import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VaultError } from "../../src/core/errors.ts";
import { configureLogger } from "../../src/core/logger.ts";
import { KeychainMasterKey, NO_KEYCHAIN_MESSAGE, isNoKeychainError, type KeychainBackend } from "../../src/vault/masterKeyKeychain.ts";
import { Vault } from "../../src/vault/vault.ts";
import { makeTempDir } from "./helpers/tempDir.ts";

configureLogger({ level: "silent" });
const CHILD = fileURLToPath(new URL("./helpers/vaultChild.ts", import.meta.url));
// A fixed PATH for children: tests do not read process.env.
const CHILD_PATH = "/usr/local/bin:/usr/bin:/bin";
const which = spawnSync("sh", ["-c", "command -v dbus-run-session && command -v gnome-keyring-daemon"], { encoding: "utf8", env: { PATH: CHILD_PATH } });
const DBUS_RUN_SESSION = which.status === 0 ? which.stdout.split("\n")[0] : undefined;
const HAVE_DBUS = DBUS_RUN_SESSION !== undefined && DBUS_RUN_SESSION !== "";
if (!HAVE_DBUS) {
  console.warn(
    "\n!!! SKIPPING the real Secret Service keychain test: dbus-run-session or gnome-keyring-daemon is not on PATH. " +
      "Install the Debian packages dbus, gnome-keyring and libsecret-1-0 to run it. !!!\n",
  );
}

function sh(q: string): string {
  return `'${q.replace(/'/g, `'\\''`)}'`;
}

/** Run a shell script inside a private D-Bus session with an unlocked gnome-keyring. */
function inKeyringSession(home: string, script: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const inner = `echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; ${script}`;
    const p = spawn(DBUS_RUN_SESSION as string, ["--", "sh", "-c", inner], {
      // Private HOME so the test keyring never touches the user's real one.
      env: { PATH: CHILD_PATH, HOME: home, XDG_DATA_HOME: join(home, ".local/share"), XDG_RUNTIME_DIR: home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => resolve({ code, out, err }));
  });
}

function node(args: string[]): string {
  return [process.execPath, CHILD, ...args].map(sh).join(" ");
}

describe("OS keychain master key", { timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = makeTempDir()));
  afterEach(() => cleanup());

  it.skipIf(!HAVE_DBUS)("creates a vault in one process and opens it from another via a real Secret Service", async () => {
    const home = join(dir, "home");
    mkdirSync(home, { mode: 0o700 });
    const path = join(dir, "vault.json");
    const r = await inKeyringSession(
      home,
      `${node(["keychain-create", path, "ha_token", "keychain-secret-value"])} && ${node(["keychain-open", path, "ha_token"])}`,
    );
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split("\n").map((l) => JSON.parse(l) as { ok: boolean; id?: string; value?: string });
    expect(lines[0]?.ok).toBe(true);
    expect(lines[1]).toEqual({ ok: true, value: "keychain-secret-value" });
    const file = JSON.parse(readFileSync(path, "utf8"));
    expect(file.key).toEqual({ kind: "keychain", service: "hearth", account: lines[0]?.id });
    // No key material in the vault file: only the keychain coordinates.
    expect(JSON.stringify(file.key)).not.toMatch(/[A-Za-z0-9+/]{40,}/);
  });

  it("without a session bus, says there is no Secret Service and names the alternatives", async () => {
    const path = join(dir, "vault.json");
    const p = spawnSync(process.execPath, [CHILD, "keychain-create", path, "x", "value-123"], {
      env: { PATH: CHILD_PATH, HOME: dir },
      encoding: "utf8",
      timeout: 60_000,
    });
    const res = JSON.parse(p.stdout.trim()) as { ok: boolean; code: string; userMessage: string };
    expect(p.status).toBe(2);
    expect(res.code).toBe("VAULT_NO_KEYCHAIN");
    expect(res.userMessage).toContain("No OS keychain");
    expect(res.userMessage).toContain("HEARTH_VAULT_PASSPHRASE_FILE");
    expect(res.userMessage).toContain("HEARTH_VAULT_KEY_FILE");
    expect(() => readFileSync(path)).toThrow(); // nothing was created
  });

  it("classifies libsecret's D-Bus failures as 'no keychain' but not other errors", () => {
    expect(isNoKeychainError(new Error("Cannot autolaunch D-Bus without X11 $DISPLAY"))).toBe(true);
    expect(isNoKeychainError(new Error("Could not connect: No such file or directory"))).toBe(true);
    expect(isNoKeychainError(new Error("The name org.freedesktop.secrets was not provided by any .service files"))).toBe(true);
    expect(isNoKeychainError(new Error("Cannot create an item in a locked collection"))).toBe(false);
  });

  it("explains a keychain that has no entry for the vault", async () => {
    // An in-memory backend standing in for a keychain that was reset after the vault was made.
    const store = new Map<string, string>();
    const backend: KeychainBackend = {
      getPassword: async (s, a) => store.get(`${s}/${a}`) ?? null,
      setPassword: async (s, a, p) => void store.set(`${s}/${a}`, p),
      deletePassword: async (s, a) => store.delete(`${s}/${a}`),
    };
    const path = join(dir, "vault.json");
    (await Vault.create(path, new KeychainMasterKey({ backend }))).dispose();
    store.clear();
    const err = await Vault.open(path, new KeychainMasterKey({ backend })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultError);
    expect((err as VaultError).code).toBe("VAULT_KEYCHAIN_MISSING");
    expect(NO_KEYCHAIN_MESSAGE).toContain("chmod 600");
  });
});
