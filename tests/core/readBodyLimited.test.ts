import { describe, expect, it } from "vitest";
import { readBodyLimited } from "../../src/core/readBodyLimited.ts";

function stream(chunks: number[]): { body: ReadableStream<Uint8Array>; pulled: () => number; cancelled: () => boolean } {
  let i = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < chunks.length) c.enqueue(new Uint8Array(chunks[i++]!).fill(i));
      else c.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { body, pulled: () => i, cancelled: () => cancelled };
}

describe("readBodyLimited", () => {
  it("joins chunks in order", async () => {
    const s = stream([3, 2]);
    expect([...(await readBodyLimited(s.body, 10, () => new Error("big")))]).toEqual([1, 1, 1, 2, 2]);
  });

  it("stops reading and cancels the stream once past the limit", async () => {
    const s = stream([4, 4, 4, 4, 4]);
    await expect(readBodyLimited(s.body, 6, () => new Error("too big"))).rejects.toThrow("too big");
    expect(s.pulled()).toBeLessThan(5);
    expect(s.cancelled()).toBe(true);
  });
});
