import { MatrixError } from "matrix-js-sdk";
import { describe, expect, it } from "vitest";
import { retryRateLimited } from "../../../src/bots/matrix/retryRateLimited.ts";

const limited = (ms?: number): MatrixError =>
  new MatrixError({ errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", ...(ms !== undefined ? { retry_after_ms: ms } : {}) }, 429);

describe("retryRateLimited", () => {
  it("waits at least retry_after_ms, then succeeds", async () => {
    let calls = 0;
    const t0 = Date.now();
    const v = await retryRateLimited(async () => {
      if (++calls < 3) throw limited(40);
      return "ok";
    });
    expect(v).toBe("ok");
    expect(calls).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(75);
  });

  it("passes other errors through and gives up after maxAttempts", async () => {
    await expect(retryRateLimited(async () => Promise.reject(new MatrixError({ errcode: "M_FORBIDDEN" }, 403)))).rejects.toMatchObject({ errcode: "M_FORBIDDEN" });
    let calls = 0;
    await expect(
      retryRateLimited(async () => {
        calls++;
        throw limited(1);
      }, { maxAttempts: 3 }),
    ).rejects.toMatchObject({ errcode: "M_LIMIT_EXCEEDED" });
    expect(calls).toBe(3);
  });

  it("stops waiting when aborted", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    await expect(retryRateLimited(async () => Promise.reject(limited(60_000)), { signal: ac.signal })).rejects.toMatchObject({ code: "ABORTED" });
  });
});
