import { HomeActions, type HomeContext } from "./homeActions.ts";

/**
 * Chat commands that reach Home Assistant without the model: quick, predictable, and usable
 * while the model is loading.
 *
 * - `/ha state ENTITY` · `/ha find WORDS` · `/ha history ENTITY [HOURS]`
 * - `/ha on|off|toggle ENTITY` · `/ha lock|unlock|open|close ENTITY` · `/ha set ENTITY TEMP`
 * - `/confirm ID` · `/cancel ID` · `/audit [N]` (admins)
 *
 * ENTITY is an entity id (`light.kitchen`) or words from its name (`kids light`).
 */

/** Usage text shown for malformed `/ha` commands. */
export const HA_USAGE =
  "Usage: /ha state ENTITY · /ha find WORDS · /ha history ENTITY [HOURS] · /ha on|off|toggle ENTITY · /ha lock|unlock|open|close ENTITY · /ha set ENTITY TEMP · /confirm ID · /cancel ID · /audit [N]";

/** The commands this module answers (for the lead's help text and routing). */
export const HA_COMMANDS = ["/ha", "/confirm", "/cancel", "/audit"] as const;

/** Service per verb and entity domain; "" means the verb does not apply (e.g. `/ha on` for a lock is ambiguous). */
const VERBS: Record<string, Record<string, string> & { default?: string }> = {
  on: { cover: "open_cover", lock: "", default: "turn_on" },
  off: { cover: "close_cover", lock: "", default: "turn_off" },
  toggle: { lock: "", default: "toggle" },
  open: { cover: "open_cover", lock: "open", valve: "open_valve", default: "" },
  close: { cover: "close_cover", valve: "close_valve", default: "" },
  lock: { lock: "lock", default: "" },
  unlock: { lock: "unlock", default: "" },
};

/**
 * Answer `text` if it is one of the home commands, else `undefined` (so the caller routes it
 * elsewhere). The reply is plain text for the chat.
 */
export async function runHaCommand(text: string, ctx: HomeContext): Promise<string | undefined> {
  const trimmed = text.trim();
  const m = /^\/(ha|confirm|cancel|audit)(?:@\S+)?(?:\s+([\s\S]*))?$/i.exec(trimmed);
  if (!m) return undefined;
  const command = (m[1] ?? "").toLowerCase();
  const rest = (m[2] ?? "").trim();
  const actions = new HomeActions(ctx);

  if (command === "confirm" || command === "cancel") {
    if (!/^#?\d+$/.test(rest)) return `Usage: /${command} ID (the number from "needs confirmation, id N").`;
    return command === "confirm" ? actions.confirm(rest) : actions.cancel(rest);
  }
  if (command === "audit") {
    if (rest !== "" && !/^\d{1,3}$/.test(rest)) return "Usage: /audit [N] (N = how many entries, default 20).";
    return actions.auditText(rest === "" ? 20 : Number(rest));
  }

  const [sub = "", ...args] = rest.split(/\s+/);
  const arg = args.join(" ").trim();
  const verb = sub.toLowerCase();
  if (verb === "state" && arg) return actions.state(arg);
  if (verb === "find" && arg) return actions.find({ words: arg });
  if (verb === "history" && arg) {
    const hm = /^(.*?)(?:\s+(\d{1,3}))?$/.exec(arg);
    const entity = hm?.[1]?.trim() ?? "";
    return entity ? actions.history(entity, hm?.[2] ? Number(hm[2]) : 24) : HA_USAGE;
  }
  if (verb === "set" && arg) {
    const sm = /^(.+?)\s+(-?\d+(?:\.\d+)?)°?[cfCF]?$/.exec(arg);
    if (!sm?.[1] || !sm[2]) return HA_USAGE;
    return actions.control(sm[1], "set_temperature", { temperature: Number(sm[2]) });
  }
  const map = VERBS[verb];
  if (map && arg) {
    return actions.control(arg, (domain) => {
      const service = map[domain] ?? map.default ?? "";
      return service === "" ? undefined : service;
    });
  }
  return HA_USAGE;
}
