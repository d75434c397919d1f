import { AbortedError } from "../../core/errors.ts";
import { getLogger } from "../../core/logger.ts";

/**
 * Retry an operation the homeserver rate-limited (`M_LIMIT_EXCEEDED`, HTTP 429), waiting as long
 * as the server asks (`Retry-After` / `retry_after_ms`, through matrix-js-sdk's
 * `MatrixError.getRetryAfterMs`). A rate-limited request was not accepted, so repeating it cannot
 * duplicate a message.
 */

const log = getLogger("matrix");

/** Shape of matrix-js-sdk's MatrixError we rely on (kept structural so core stays SDK-free). */
interface RateLimitLike {
  isRateLimitError(): boolean;
  getRetryAfterMs(): number | null;
}

function asRateLimit(err: unknown): RateLimitLike | undefined {
  const e = err as Partial<RateLimitLike> | null;
  if (e && typeof e.isRateLimitError === "function" && typeof e.getRetryAfterMs === "function" && e.isRateLimitError()) {
    return e as RateLimitLike;
  }
  return undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((res, rej) => {
    if (signal?.aborted) return rej(new AbortedError());
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      res();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      rej(new AbortedError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Options for {@link retryRateLimited}. */
export interface RetryOptions {
  /** Give up after this many rate-limited attempts (default 5). */
  maxAttempts?: number;
  /** Wait used when the server gives no hint (default 1000 ms). */
  defaultWaitMs?: number;
  /** Never wait longer than this for one retry (default 60 s). */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

/** Run `op`, retrying while it fails with a rate-limit error. Other errors propagate at once. */
export async function retryRateLimited<T>(op: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const rl = asRateLimit(err);
      if (!rl || attempt >= maxAttempts) throw err;
      let wait: number;
      try {
        wait = rl.getRetryAfterMs() ?? options.defaultWaitMs ?? 1000;
      } catch {
        wait = options.defaultWaitMs ?? 1000;
      }
      wait = Math.min(Math.max(wait, 0), options.maxWaitMs ?? 60_000);
      log.warn({ attempt, waitMs: wait }, "Matrix homeserver rate-limited a request; retrying after the requested delay");
      await sleep(wait, options.signal);
    }
  }
}
