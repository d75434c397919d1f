import { InputError } from "../core/errors.ts";

/** Something with an amount that can be picked (receipts are passed oldest first). */
export interface Pickable {
  id: number;
  amountCents: number;
}

/** Result of {@link pickReceipts}. */
export interface PickResult<T extends Pickable> {
  picked: T[];
  totalCents: number;
  targetCents: number;
}

/** Largest `target × items` the exact search accepts (bit-cells; ≈ 64 MB of bitsets). */
export const PICK_CELL_CAP = 512_000_000;

/**
 * Choose items whose amounts sum as close as possible to `targetCents` without exceeding it
 * (exact subset-sum over cents). Among equally good subsets, older items win: `items` must be
 * ordered oldest first, and the chosen subset is the lexicographically earliest one (it includes
 * the oldest item whenever some optimal subset does, then the next, and so on).
 *
 * Uses one reachability bitset per suffix of `items`, so memory is items × target / 8 bytes; the
 * product is capped at {@link PICK_CELL_CAP}.
 */
export function pickReceipts<T extends Pickable>(items: readonly T[], targetCents: number): PickResult<T> {
  if (!Number.isSafeInteger(targetCents) || targetCents <= 0) throw new InputError("PICK_BAD_TARGET", "Give a positive amount to pick receipts for, e.g. /pick 250.00");
  const usable = items.filter((i) => Number.isSafeInteger(i.amountCents) && i.amountCents > 0 && i.amountCents <= targetCents);
  const n = usable.length;
  if ((n + 1) * (targetCents + 1) > PICK_CELL_CAP) {
    throw new InputError("PICK_TOO_LARGE", `That is too many receipts or too large an amount to search exactly (${n} receipts up to ${(targetCents / 100).toFixed(2)}); narrow it down with a year or patient.`);
  }
  const words = (targetCents >>> 5) + 1;
  // reach[i] = sums reachable using items i..n-1.
  const reach: Uint32Array[] = new Array(n + 1);
  const base = new Uint32Array(words);
  base[0] = 1;
  reach[n] = base;
  for (let i = n - 1; i >= 0; i--) {
    const prev = reach[i + 1]!;
    const next = prev.slice();
    const shift = usable[i]!.amountCents;
    const ws = shift >>> 5;
    const bs = shift & 31;
    for (let w = words - 1; w >= ws; w--) {
      const lo = prev[w - ws]!;
      const carry = bs === 0 || w - ws - 1 < 0 ? 0 : prev[w - ws - 1]! >>> (32 - bs);
      next[w] = next[w]! | ((lo << bs) | carry);
    }
    // Bits past targetCents in the last word are never read, so no masking is needed.
    reach[i] = next;
  }
  const has = (set: Uint32Array, s: number): boolean => ((set[s >>> 5]! >>> (s & 31)) & 1) === 1;
  let best = targetCents;
  while (best > 0 && !has(reach[0]!, best)) best--;
  const picked: T[] = [];
  let remaining = best;
  for (let i = 0; i < n && remaining > 0; i++) {
    const a = usable[i]!.amountCents;
    if (a <= remaining && has(reach[i + 1]!, remaining - a)) {
      picked.push(usable[i]!);
      remaining -= a;
    }
  }
  return { picked, totalCents: best, targetCents };
}
