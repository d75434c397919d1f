import { randomBytes } from "node:crypto";

/** Telegram's limit on `callback_data`, in UTF-8 bytes. */
export const CALLBACK_DATA_LIMIT = 64;
const PREFIX = "hearth:cb:";

/**
 * Maps button commands to Telegram `callback_data` and back. Commands that fit in 64 bytes are
 * sent as-is (so a press survives a restart); longer ones get a random short key kept in a
 * bounded in-memory table — after a restart or eviction such a button reports itself expired
 * instead of running something else.
 */
export class CallbackCommands {
  readonly #byKey = new Map<string, string>();
  readonly #maxEntries: number;

  /** @param maxEntries How many long commands to remember (oldest forgotten first). */
  constructor(maxEntries = 2000) {
    this.#maxEntries = maxEntries;
  }

  /** The `callback_data` to put on a button whose press should send `command`. */
  encode(command: string): string {
    if (Buffer.byteLength(command, "utf8") <= CALLBACK_DATA_LIMIT && !command.startsWith(PREFIX)) return command;
    const key = PREFIX + randomBytes(12).toString("base64url");
    this.#byKey.set(key, command);
    while (this.#byKey.size > this.#maxEntries) this.#byKey.delete(this.#byKey.keys().next().value!);
    return key;
  }

  /**
   * The command behind `data`: the data itself for short commands, the stored command for a key,
   * or null when the key is unknown (expired button).
   */
  resolve(data: string): string | null {
    if (!data.startsWith(PREFIX)) return data;
    return this.#byKey.get(data) ?? null;
  }
}
