/**
 * A small structural check of a value against the JSON-schema subset Hearth uses for structured
 * answers (type, properties, required, items, enum, const, min/maxLength, minimum/maximum,
 * anyOf/oneOf, additionalProperties: false).
 *
 * The llama.cpp engine never needs it (its grammar makes invalid output impossible); it guards
 * HTTP backends whose servers may ignore `response_format`, so a wrong answer becomes a clear
 * error instead of bad data flowing into the ledger.
 */

/** Returns undefined when `value` matches, else a short description of the first mismatch. */
export function checkJsonSchema(value: unknown, schema: Record<string, unknown>, path = "$"): string | undefined {
  if ("const" in schema && JSON.stringify(value) !== JSON.stringify(schema.const)) return `${path} must be ${JSON.stringify(schema.const)}`;
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    return `${path} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`;
  }
  const alternatives = (schema.anyOf ?? schema.oneOf) as Record<string, unknown>[] | undefined;
  if (Array.isArray(alternatives) && !alternatives.some((alt) => checkJsonSchema(value, alt, path) === undefined)) {
    return `${path} matches none of the allowed shapes`;
  }
  const types = schema.type === undefined ? undefined : Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
  if (types && !types.some((t) => hasType(value, t))) return `${path} must be of type ${types.join(" or ")}`;

  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && value.length < schema.minLength) return `${path} is shorter than ${schema.minLength}`;
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength) return `${path} is longer than ${schema.maxLength}`;
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) return `${path} is below ${schema.minimum}`;
    if (typeof schema.maximum === "number" && value > schema.maximum) return `${path} is above ${schema.maximum}`;
  }
  if (Array.isArray(value) && schema.items && typeof schema.items === "object") {
    for (let i = 0; i < value.length; i++) {
      const err = checkJsonSchema(value[i], schema.items as Record<string, unknown>, `${path}[${i}]`);
      if (err) return err;
    }
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in obj)) return `${path}.${key} is missing`;
    for (const [key, v] of Object.entries(obj)) {
      const sub = props[key];
      if (sub) {
        const err = checkJsonSchema(v, sub, `${path}.${key}`);
        if (err) return err;
      } else if (schema.additionalProperties === false) return `${path}.${key} is not allowed`;
    }
  }
  return undefined;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "string": return typeof value === "string";
    case "number": return typeof value === "number" && Number.isFinite(value);
    case "integer": return typeof value === "number" && Number.isInteger(value);
    case "boolean": return typeof value === "boolean";
    case "null": return value === null;
    case "array": return Array.isArray(value);
    case "object": return value !== null && typeof value === "object" && !Array.isArray(value);
    default: return true;
  }
}
