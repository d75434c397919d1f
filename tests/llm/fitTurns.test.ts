import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ChatTurn } from "../../src/llm/engine.ts";
import { fitTurns } from "../../src/llm/fitTurns.ts";

const cost = (t: ChatTurn) => t.text.length;
const conv = (n: number, size = 10): ChatTurn[] =>
  Array.from({ length: n }, (_, i) => ({ role: i % 2 === 0 ? "user" : "assistant", text: `${i}`.padEnd(size, ".") }));

describe("fitTurns", () => {
  it("keeps everything that fits", () => {
    const turns = conv(5);
    const r = fitTurns(turns, { fixedTokens: 10, budget: 100, cost });
    expect(r.turns).toBe(turns);
    expect(r.dropped).toBe(0);
    expect(r.trim).toBeUndefined();
  });

  it("drops oldest turns down to the refill target and starts on a user turn", () => {
    const turns = conv(21);
    const r = fitTurns(turns, { fixedTokens: 10, budget: 100, cost });
    expect(r.turns.at(-1)).toBe(turns.at(-1));
    expect(r.turns[0]!.role).toBe("user");
    expect(10 + r.turns.length * 10).toBeLessThanOrEqual(60);
  });

  it("keeps the same cut while it still fits (stable warm prefix)", () => {
    const turns = conv(21);
    const first = fitTurns(turns, { fixedTokens: 10, budget: 100, cost });
    const more = [...turns, { role: "assistant" as const, text: "a".repeat(10) }, { role: "user" as const, text: "b".repeat(10) }];
    const second = fitTurns(more, { fixedTokens: 10, budget: 100, cost, previous: first.trim });
    expect(second.dropped).toBe(first.dropped);
  });

  it("property: the result fits whenever the last turn alone fits, and is a suffix", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ role: fc.constantFrom<"user" | "assistant">("user", "assistant"), text: fc.string({ maxLength: 40 }) }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 50, max: 400 }),
        (turns, fixed, budget) => {
          const r = fitTurns(turns, { fixedTokens: fixed, budget, cost });
          expect(r.turns).toEqual(turns.slice(r.dropped));
          expect(r.turns.length).toBeGreaterThan(0);
          if (fixed + cost(turns.at(-1)!) <= budget * 0.6) {
            expect(fixed + r.turns.reduce((a, t) => a + cost(t), 0)).toBeLessThanOrEqual(budget);
          }
        },
      ),
    );
  });
});
