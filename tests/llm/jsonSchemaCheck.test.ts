import { describe, expect, it } from "vitest";
import { checkJsonSchema } from "../../src/llm/jsonSchemaCheck.ts";

const receipt = {
  type: "object",
  properties: {
    merchant: { type: "string", minLength: 1, maxLength: 40 },
    total: { type: "number", minimum: 0 },
    items: { type: "array", items: { type: "object", properties: { qty: { type: "integer" } }, required: ["qty"] } },
    kind: { enum: ["pharmacy", "doctor"] },
    note: { anyOf: [{ type: "string" }, { type: "null" }] },
  },
  required: ["merchant", "total"],
  additionalProperties: false,
};

describe("checkJsonSchema", () => {
  it("accepts a matching value", () => {
    expect(checkJsonSchema({ merchant: "CVS", total: 12.3, items: [{ qty: 2 }], kind: "pharmacy", note: null }, receipt)).toBeUndefined();
  });

  it.each([
    [{ total: 1 }, "$.merchant is missing"],
    [{ merchant: "", total: 1 }, "$.merchant is shorter than 1"],
    [{ merchant: "x", total: -1 }, "$.total is below 0"],
    [{ merchant: "x", total: "1" }, "$.total must be of type number"],
    [{ merchant: "x", total: 1, items: [{ qty: 1.5 }] }, "$.items[0].qty must be of type integer"],
    [{ merchant: "x", total: 1, kind: "vet" }, '$.kind must be one of "pharmacy", "doctor"'],
    [{ merchant: "x", total: 1, note: 3 }, "$.note matches none of the allowed shapes"],
    [{ merchant: "x", total: 1, extra: true }, "$.extra is not allowed"],
    [[1], "$ must be of type object"],
  ])("reports %j", (value, message) => {
    expect(checkJsonSchema(value, receipt)).toBe(message);
  });
});
