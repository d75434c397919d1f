import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

/** `hearth vault …` from the command line with each master-key source. */
const bin = resolve(import.meta.dirname, "../../bin/hearth.js");
const CHILD_PATH = `${resolve(process.execPath, "..")}:/usr/local/bin:/usr/bin:/bin`;
let dir: string;
const value = `tok_${randomBytes(18).toString("hex")}`;

function hearth(args: string[], env: Record<string, string>, input = "") {
  const r = spawnSync(process.execPath, [bin, ...args], {
    input,
    encoding: "utf8",
    timeout: 120_000,
    env: { PATH: CHILD_PATH, HOME: dir, HEARTH_HOME: join(dir, "data"), HEARTH_CONFIG: join(dir, "config.yaml"), CI: "true", ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function keyFile(name: string, mode = 0o600): string {
  const f = join(dir, name);
  writeFileSync(f, randomBytes(32).toString("base64"));
  chmodSync(f, mode);
  return f;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hearth-vaultcli-"));
  writeFileSync(join(dir, "config.yaml"), "log: { level: warn }\nvault: { keychain: false }\n");
});

describe("hearth vault CLI", () => {
  it("add / list / rotate-key / rm with a key file and a passphrase file; values never printed", () => {
    const k1 = keyFile("k1");
    const add = hearth(["vault", "add", "ha_token", "--allow-host", "ha.local:8123"], { HEARTH_VAULT_KEY_FILE: k1 }, value);
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/Stored \{\{secret:ha_token\}\} \(may be sent to ha\.local:8123\)/);
    const list = hearth(["vault", "list", "--json"], { HEARTH_VAULT_KEY_FILE: k1 });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out)).toEqual([expect.objectContaining({ name: "ha_token", allowHosts: ["ha.local:8123"], damaged: false })]);

    const pass = join(dir, "pass");
    writeFileSync(pass, "correct horse battery staple\n");
    chmodSync(pass, 0o600);
    const rot = hearth(["vault", "rotate-key", "--to", "passphrase", "--passphrase-file", pass], { HEARTH_VAULT_KEY_FILE: k1 });
    expect(rot.code).toBe(0);
    expect(rot.out).toMatch(/protected by the passphrase/);
    expect(hearth(["vault", "list"], { HEARTH_VAULT_PASSPHRASE_FILE: pass }).out).toContain("{{secret:ha_token}}");
    // The old key no longer opens it.
    expect(hearth(["vault", "list"], { HEARTH_VAULT_KEY_FILE: k1 }).code).toBe(2);

    const wrong = join(dir, "wrong");
    writeFileSync(wrong, "not the passphrase\n");
    chmodSync(wrong, 0o600);
    const before = readFileSync(join(dir, "data", "vault.json"));
    const bad = hearth(["vault", "list"], { HEARTH_VAULT_PASSPHRASE_FILE: wrong });
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/passphrase/i);
    expect(readFileSync(join(dir, "data", "vault.json")).equals(before)).toBe(true);

    const k2 = keyFile("k2");
    expect(hearth(["vault", "rotate-key", "--to", "key-file", "--key-file", k2, "--reencrypt"], { HEARTH_VAULT_PASSPHRASE_FILE: pass }).code).toBe(0);
    expect(hearth(["vault", "rm", "ha_token"], { HEARTH_VAULT_KEY_FILE: k2 }).out).toMatch(/Removed/);
    expect(hearth(["vault", "list"], { HEARTH_VAULT_KEY_FILE: k2 }).out).toMatch(/empty/);
    const all = [add, list, rot, bad].map((r) => r.out + r.err).join("\n");
    expect(all).not.toContain(value);
  }, 180_000);

  it("refuses a world-readable key file and says how to fix it", () => {
    const loose = keyFile("loose", 0o644);
    const r = hearth(["vault", "add", "x_token"], { HEARTH_HOME: join(dir, "other"), HEARTH_VAULT_KEY_FILE: loose }, value);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`chmod 600 ${loose}`);
  });

  const dbus = spawnSync("sh", ["-c", "command -v dbus-run-session && command -v gnome-keyring-daemon"], { encoding: "utf8", env: { PATH: CHILD_PATH } });
  it.skipIf(dbus.status !== 0)("uses the OS keychain (a real Secret Service) when there is one", () => {
    const home = join(dir, "kc");
    mkdirSync(home, { mode: 0o700 });
    writeFileSync(join(home, "config.yaml"), "log: { level: warn }\n");
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const h = `${q(process.execPath)} ${q(bin)}`;
    const script = `echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; printf %s ${q(value)} | ${h} vault add kc_secret && ${h} vault list --json`;
    const r = spawnSync(dbus.stdout.split("\n")[0]!, ["--", "sh", "-c", script], {
      encoding: "utf8",
      timeout: 120_000,
      env: { PATH: CHILD_PATH, HOME: home, XDG_DATA_HOME: join(home, "share"), XDG_RUNTIME_DIR: home, HEARTH_HOME: join(home, "data"), HEARTH_CONFIG: join(home, "config.yaml"), CI: "true" },
    });
    expect(r.stderr).not.toMatch(/hearth:/); // dbus-daemon's own notices may appear; Hearth's errors start with "hearth:"
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Stored {{secret:kc_secret}}");
    const json = JSON.parse(r.stdout.slice(r.stdout.indexOf("[")));
    expect(json).toEqual([expect.objectContaining({ name: "kc_secret" })]);
    expect(JSON.parse(readFileSync(join(home, "data", "vault.json"), "utf8")).key.kind).toBe("keychain");
    expect(r.stdout + r.stderr).not.toContain(value);
  }, 120_000);
});
