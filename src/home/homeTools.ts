import { z } from "zod";
import type { ModelFunction } from "../llm/engine.ts";
import { HomeActions, type HomeContext } from "./homeActions.ts";

/**
 * The Home Assistant functions offered to the model for one person's message. Every handler goes
 * through {@link HomeActions}, so the model can do exactly what the person could do with `/ha`
 * commands and nothing more; sensitive calls come back as "needs confirmation, id N" for a human
 * to confirm. Parameter schemas stay within node-llama-cpp's GBNF JSON-schema subset.
 */

const findParams = z.object({
  words: z.string().max(200).optional(),
  area: z.string().max(100).optional(),
  domain: z.string().max(50).optional(),
});
const entityParams = z.object({ entity: z.string().min(1).max(200) });
const historyParams = z.object({ entity: z.string().min(1).max(200), hours: z.number().min(1).max(744).optional() });
const callParams = z.object({
  entity: z.string().min(1).max(200),
  service: z.string().min(1).max(80),
  temperature: z.number().optional(),
  brightness_pct: z.number().min(0).max(100).optional(),
  position: z.number().min(0).max(100).optional(),
  hvac_mode: z.string().max(30).optional(),
});
const askParams = z.object({ text: z.string().min(1).max(500) });

/**
 * Build the tools for `ctx.person`. `askHomeAssistant` is only included for people the policy
 * lets talk to HA's own agent (it bypasses Hearth's per-person scopes).
 */
export function createHomeTools(ctx: HomeContext): Record<string, ModelFunction> {
  const base = new HomeActions(ctx);
  // The engine may pass its own signal per call (the chat was cancelled); honour both.
  const on = (signal: AbortSignal | undefined): HomeActions =>
    signal === undefined || signal === ctx.signal ? base : new HomeActions({ ...ctx, signal: ctx.signal ? AbortSignal.any([ctx.signal, signal]) : signal });
  const tools: Record<string, ModelFunction> = {
    findEntities: {
      description: "Find Home Assistant devices/sensors by words, area or domain (light, switch, climate, lock, cover, sensor). Returns id, name, area and state.",
      parameters: {
        type: "object",
        properties: {
          words: { type: "string", description: "words from the name, e.g. \"kids light\"; empty for all" },
          area: { type: "string", description: "area name or id, or empty" },
          domain: { type: "string", description: "domain such as light, or empty" },
        },
      },
      handler: (params, signal) => withParams(findParams, params, (p) => on(signal).find(p)),
    },
    getState: {
      description: "Current state of one Home Assistant entity (id like light.kitchen, or its name).",
      parameters: { type: "object", properties: { entity: { type: "string" } }, required: ["entity"] },
      handler: (params, signal) => withParams(entityParams, params, (p) => on(signal).state(p.entity)),
    },
    getHistory: {
      description: "How an entity changed over the last hours; energy sensors give usage per hour/day.",
      parameters: {
        type: "object",
        properties: { entity: { type: "string" }, hours: { type: "number", description: "1-744, default 24" } },
        required: ["entity"],
      },
      handler: (params, signal) => withParams(historyParams, params, (p) => on(signal).history(p.entity, p.hours)),
    },
    callService: {
      description:
        "Act on one entity: service such as turn_on, turn_off, toggle, set_temperature, open_cover, close_cover, lock, unlock. Locks, alarms, garage doors and unusual temperatures return a confirmation id instead of acting.",
      parameters: {
        type: "object",
        properties: {
          entity: { type: "string" },
          service: { type: "string" },
          temperature: { type: "number" },
          brightness_pct: { type: "number" },
          position: { type: "number" },
          hvac_mode: { type: "string" },
        },
        required: ["entity", "service"],
      },
      handler: (params, signal) =>
        withParams(callParams, params, (p) => {
          const { entity, service, ...data } = p;
          return on(signal).control(entity, service, data);
        }),
    },
  };
  if (ctx.permissions.mayConverse(ctx.person)) {
    tools["askHomeAssistant"] = {
      description: "Pass a sentence to Home Assistant's own assistant (Assist) when the other tools cannot answer.",
      parameters: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
      handler: (params, signal) => withParams(askParams, params, (p) => on(signal).ask(p.text)),
    };
  }
  return tools;
}

/** Validate model-supplied params; bad ones become a short hint the model can act on. */
async function withParams<T>(schema: z.ZodType<T>, params: unknown, run: (p: T) => Promise<string>): Promise<string> {
  const parsed = schema.safeParse(params ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `Invalid parameters: ${issue ? `${issue.path.join(".") || "params"}: ${issue.message}` : "unreadable"}.`;
  }
  return run(parsed.data);
}
