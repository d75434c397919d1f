import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { AbortedError, VaultError } from "../core/errors.ts";

/** Options for {@link acquireFileLock}. */
export interface FileLockOptions {
  /** Give up after this long (ms); default 15 000. */
  timeoutMs?: number;
  /** A lock older than this (ms) is stale even if its owner seems alive; default 60 000. */
  staleMs?: number;
  /** Cancels waiting. */
  signal?: AbortSignal;
}

/** A held lock; `release()` is idempotent. */
export interface FileLock {
  /** Remove the lock file if it is still ours. */
  release(): Promise<void>;
}

interface LockInfo {
  pid: number;
  host: string;
  token: string;
  time: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readLock(path: string): Promise<{ info: LockInfo | undefined; mtimeMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    let info: LockInfo | undefined;
    try {
      info = JSON.parse(text) as LockInfo;
    } catch {
      info = undefined; // half-written by a process that died between create and write
    }
    return { info, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Cross-process exclusive lock: a lock file created with O_EXCL holding the owner's pid, host and
 * a random token. A lock whose owner process is gone (same host) or that is older than `staleMs`
 * is broken. Breaking renames the file aside first and checks it is still the stale one, so two
 * waiters that both saw a stale lock cannot both win.
 */
export async function acquireFileLock(lockPath: string, options: FileLockOptions = {}): Promise<FileLock> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const staleMs = options.staleMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const me: LockInfo = { pid: process.pid, host: hostname(), token: randomBytes(8).toString("hex"), time: Date.now() };
  let delay = 2;
  let lastOwner: LockInfo | undefined;
  for (;;) {
    if (options.signal?.aborted) throw new AbortedError({ cause: options.signal.reason });
    try {
      const fh = await open(lockPath, "wx", 0o600);
      try {
        await fh.writeFile(JSON.stringify({ ...me, time: Date.now() }));
      } finally {
        await fh.close();
      }
      return makeLock(lockPath, me.token);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new VaultError("VAULT_LOCK_FAILED", `Cannot create the lock file ${lockPath}. Check that the data directory is writable.`, { cause: err });
      }
    }
    const current = await readLock(lockPath);
    if (current !== undefined) {
      lastOwner = current.info;
      const age = Date.now() - current.mtimeMs;
      const ownerGone = current.info !== undefined && current.info.host === me.host && !pidAlive(current.info.pid);
      // A lock file that never got its content is only stale once it is clearly old.
      const stale = ownerGone || age > staleMs || (current.info === undefined && age > 2_000);
      if (stale) {
        await breakStaleLock(lockPath, current.info);
        continue;
      }
    } else continue; // released between our open and read: retry at once
    if (Date.now() >= deadline) {
      throw new VaultError(
        "VAULT_BUSY",
        `The vault is busy: another Hearth process (pid ${lastOwner?.pid ?? "?"}) holds ${lockPath}. Try again; if no Hearth process is running, delete that file.`,
      );
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 50);
  }
}

async function breakStaleLock(lockPath: string, seen: LockInfo | undefined): Promise<void> {
  const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    await rename(lockPath, aside);
  } catch {
    return; // someone else broke or released it
  }
  const moved = await readLock(aside);
  const same = moved !== undefined && (moved.info?.token ?? null) === (seen?.token ?? null);
  if (!same) {
    // We moved a *fresh* lock taken after our check: put it back unless a newer one appeared.
    await link(aside, lockPath).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

function makeLock(lockPath: string, token: string): FileLock {
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      const cur = await readLock(lockPath);
      if (cur?.info?.token === token) await unlink(lockPath).catch(() => undefined);
    },
  };
}
