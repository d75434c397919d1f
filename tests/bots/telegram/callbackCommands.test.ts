import { describe, expect, it } from "vitest";
import { CALLBACK_DATA_LIMIT, CallbackCommands } from "../../../src/bots/telegram/callbackCommands.ts";

describe("CallbackCommands", () => {
  it("sends short commands as-is and long ones as short keys that resolve back", () => {
    const c = new CallbackCommands();
    expect(c.encode("/confirm 12")).toBe("/confirm 12");
    const long = `/confirm ${"é".repeat(40)}`; // 89 bytes in UTF-8
    const key = c.encode(long);
    expect(Buffer.byteLength(key)).toBeLessThanOrEqual(CALLBACK_DATA_LIMIT);
    expect(key).not.toBe(long);
    expect(c.resolve(key)).toBe(long);
    expect(c.resolve("/confirm 12")).toBe("/confirm 12");
  });

  it("reports unknown or evicted keys as expired (null)", () => {
    const c = new CallbackCommands(1);
    const first = c.encode("x".repeat(100));
    c.encode("y".repeat(100));
    expect(c.resolve(first)).toBeNull();
    expect(new CallbackCommands().resolve(first)).toBeNull();
  });

  it("does not let a user-typed command impersonate a key", () => {
    const c = new CallbackCommands();
    expect(c.encode("hearth:cb:abc")).not.toBe("hearth:cb:abc");
  });
});
