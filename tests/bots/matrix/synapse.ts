import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

/**
 * Test helper: a throw-away Synapse on 127.0.0.1 (started by scripts/synapse/start.sh) plus the
 * shared-secret admin registration API, so tests can create users without open registration.
 */

const repoRoot = resolve(import.meta.dirname, "../../..");
const scriptsDir = join(repoRoot, "scripts", "synapse");

/** What tests need to talk to the running homeserver. */
export interface SynapseInfo {
  baseUrl: string;
  serverName: string;
  sharedSecret: string;
}

/** A running Synapse owned by this process. */
export interface RunningSynapse extends SynapseInfo {
  dataDir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return await new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** Install (or reuse) the Synapse venv. Slow the first time (pip), instant afterwards. */
export async function setupSynapse(): Promise<void> {
  await promisify(execFile)("bash", [join(scriptsDir, "setup.sh")], { timeout: 15 * 60_000 });
}

/** Start a fresh Synapse in a temp dir and wait until it answers `/health`. */
export async function startSynapse(options: { readyTimeoutMs?: number } = {}): Promise<RunningSynapse> {
  await setupSynapse();
  const dataDir = mkdtempSync(join(tmpdir(), "hearth-synapse-"));
  const port = await freePort();
  const sharedSecret = randomBytes(16).toString("hex");
  const baseUrl = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn("bash", [join(scriptsDir, "start.sh"), dataDir, String(port), sharedSecret], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });

  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (exited) throw new Error(`Synapse exited during startup. stderr:\n${stderr}\nlogs: ${dataDir}/homeserver.log`);
    try {
      const r = await fetch(`${baseUrl}/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`Synapse did not become ready in time. stderr:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    baseUrl,
    serverName: "localhost",
    sharedSecret,
    dataDir,
    async stop() {
      if (!exited) {
        const gone = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A registered account. */
export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

/**
 * Register a user through `/_synapse/admin/v1/register` (HMAC-SHA1 over nonce, user, password,
 * admin flag with the shared secret), as `register_new_matrix_user` does.
 */
export async function registerUser(
  info: SynapseInfo,
  localpart: string,
  options: { admin?: boolean; password?: string } = {},
): Promise<RegisteredUser> {
  const url = `${info.baseUrl}/_synapse/admin/v1/register`;
  const nonceRes = await fetch(url);
  if (!nonceRes.ok) throw new Error(`register nonce: HTTP ${nonceRes.status}`);
  const { nonce } = (await nonceRes.json()) as { nonce: string };
  const password = options.password ?? randomBytes(12).toString("hex");
  const admin = options.admin ?? false;
  const mac = createHmac("sha1", info.sharedSecret)
    .update(nonce)
    .update("\x00")
    .update(localpart)
    .update("\x00")
    .update(password)
    .update("\x00")
    .update(admin ? "admin" : "notadmin")
    .digest("hex");
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ nonce, username: localpart, password, admin, mac }),
  });
  const body = (await res.json()) as { user_id?: string; access_token?: string; device_id?: string; error?: string };
  if (!res.ok || !body.user_id || !body.access_token || !body.device_id) {
    throw new Error(`register ${localpart}: HTTP ${res.status} ${body.error ?? ""}`);
  }
  return { userId: body.user_id, accessToken: body.access_token, deviceId: body.device_id, password };
}

/** Unique localpart per call so test files sharing one Synapse never collide. */
export function uniqueLocalpart(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}
