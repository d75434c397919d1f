import type { Context } from "./context.ts";
import { AccessDeniedError, InputError } from "./errors.ts";

/** A slash command, shared by every transport. */
export interface Command {
  /** Name without the slash, lowercase. */
  name: string;
  /** One line for /help and Telegram's command menu. */
  description: string;
  /** Arguments, e.g. "ID FIELD VALUE". */
  usage?: string;
  /** Only people with role admin may run it. */
  adminOnly?: boolean;
  /** Run it. `args` are whitespace-separated words; `rest` is the raw text after the name. */
  run(ctx: Context, args: string[], rest: string): Promise<void>;
}

/** Parsed `/name args…`, or null when the text is not a command. */
export function parseCommand(text: string): { name: string; args: string[]; rest: string } | null {
  const m = /^\/([A-Za-z][\w-]{0,31})(?:@\S+)?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) return null;
  const rest = (m[2] ?? "").trim();
  return { name: m[1]!.toLowerCase(), args: rest ? rest.split(/\s+/) : [], rest };
}

/** Registry of commands. Features add theirs; `/help` lists what the asker may use. */
export class CommandRegistry {
  readonly #commands = new Map<string, Command>();

  /** Add a command; a duplicate name is a programming error. */
  add(command: Command): this {
    if (this.#commands.has(command.name)) throw new Error(`command /${command.name} registered twice`);
    this.#commands.set(command.name, command);
    return this;
  }

  get(name: string): Command | undefined {
    return this.#commands.get(name);
  }

  /** Commands visible to someone (admins see admin commands). */
  list(isAdmin = true): Command[] {
    return [...this.#commands.values()].filter((c) => isAdmin || !c.adminOnly).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Run a command line. Throws InputError for unknown commands with a pointer to /help. */
  async dispatch(ctx: Context, text: string): Promise<void> {
    const parsed = parseCommand(text);
    if (!parsed) throw new InputError("BAD_COMMAND", "That doesn't look like a command. Commands start with / followed by a name, e.g. /help.");
    const cmd = this.#commands.get(parsed.name);
    if (!cmd) throw new InputError("UNKNOWN_COMMAND", `I don't know /${parsed.name}. Send /help to see what I can do.`);
    if (cmd.adminOnly && ctx.person?.role !== "admin") throw new AccessDeniedError(`/${cmd.name} is only for admins.`);
    await cmd.run(ctx, parsed.args, parsed.rest);
  }
}

/** Throw a usage error for a command. */
export function usage(cmd: Pick<Command, "name" | "usage">, why?: string): never {
  throw new InputError("BAD_USAGE", `${why ? `${why} ` : ""}Usage: /${cmd.name}${cmd.usage ? ` ${cmd.usage}` : ""}`);
}
