import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { pickReceipts } from "../../src/receipts/pickReceipts.ts";

/** Best sum ≤ target and, among those, the subset that includes the earliest items (bitmask search). */
function brute(amounts: number[], target: number): { sum: number; ids: number[] } {
  const n = amounts.length;
  let best = { sum: 0, ids: [] as number[] };
  for (let mask = 0; mask < 1 << n; mask++) {
    let sum = 0;
    const ids: number[] = [];
    for (let i = 0; i < n; i++) if (mask & (1 << i)) (sum += amounts[i]!), ids.push(i);
    if (sum > target) continue;
    if (sum > best.sum || (sum === best.sum && earlier(ids, best.ids))) best = { sum, ids };
  }
  return best;
}

/** a beats b when at the first index where membership differs, a includes it. */
function earlier(a: number[], b: number[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  for (let i = 0; i < 32; i++) if (sa.has(i) !== sb.has(i)) return sa.has(i);
  return false;
}

describe("pickReceipts", () => {
  it("matches brute force on small random cases (sum and oldest-first tie-break)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 0, maxLength: 11 }), fc.integer({ min: 1, max: 20000 }), (amounts, target) => {
        const items = amounts.map((amountCents, id) => ({ id, amountCents }));
        const got = pickReceipts(items, target);
        const want = brute(amounts, target);
        expect(got.totalCents).toBe(want.sum);
        expect(got.picked.reduce((s, r) => s + r.amountCents, 0)).toBe(got.totalCents);
        expect(got.picked.map((r) => r.id)).toEqual(want.ids);
      }),
      { numRuns: 300 },
    );
  });

  it("crosses 32-bit word boundaries correctly", () => {
    const items = [33, 64, 95, 1000, 31].map((amountCents, id) => ({ id, amountCents }));
    expect(pickReceipts(items, 128).totalCents).toBe(128); // 33 + 95
    expect(pickReceipts(items, 1223).totalCents).toBe(1223);
  });

  it("refuses bad targets and searches that would be too large", () => {
    expect(() => pickReceipts([], 0)).toThrow(/positive amount/);
    const many = Array.from({ length: 400 }, (_, id) => ({ id, amountCents: 100 + id }));
    expect(() => pickReceipts(many, 5_000_000)).toThrow(/too many receipts or too large/);
  });
});
