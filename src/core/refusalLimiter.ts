/**
 * Remembers whom the bot has already refused, so an unauthorized person gets at most one polite
 * "sorry, I only talk to my family" per window (a day by default) instead of a reply to every
 * message. Replying every time would let a stranger use the bot to spam a chat, and staying
 * silent from the first message leaves an honest mistake (wrong bot) unexplained.
 *
 * Transport-agnostic and pure: time comes from an injectable clock and nothing is persisted (a
 * restart at worst repeats one refusal). Memory is bounded: the oldest entries are forgotten first.
 */
export class RefusalLimiter {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** sender id → time of the last refusal; Map iteration order doubles as age order. */
  readonly #lastRefusal = new Map<string, number>();

  /**
   * @param options.windowMs How long one refusal covers (default 24 h).
   * @param options.maxEntries How many senders to remember (default 10,000).
   * @param options.now Clock in ms since epoch (default `Date.now`; tests pass a fake).
   */
  constructor(options: { windowMs?: number; maxEntries?: number; now?: () => number } = {}) {
    this.#windowMs = options.windowMs ?? 24 * 60 * 60 * 1000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
    if (!(this.#windowMs > 0)) throw new RangeError("RefusalLimiter windowMs must be positive");
    if (!(this.#maxEntries >= 1)) throw new RangeError("RefusalLimiter maxEntries must be at least 1");
  }

  /**
   * Should `senderId` be sent a refusal now? Returns true at most once per window per sender and
   * records the refusal when it does; false means "stay silent".
   */
  shouldRefuse(senderId: string): boolean {
    const now = this.#now();
    const last = this.#lastRefusal.get(senderId);
    if (last !== undefined && now - last < this.#windowMs) return false;
    this.#lastRefusal.delete(senderId); // re-insert so it becomes the newest entry
    this.#lastRefusal.set(senderId, now);
    this.#evict(now);
    return true;
  }

  /** Forget a sender (e.g. once they have been added to the family). */
  forget(senderId: string): void {
    this.#lastRefusal.delete(senderId);
  }

  /** Number of senders currently remembered. */
  get size(): number {
    return this.#lastRefusal.size;
  }

  #evict(now: number): void {
    for (const [id, at] of this.#lastRefusal) {
      // Oldest first: stop at the first entry that is both in-window and within the size budget.
      if (this.#lastRefusal.size > this.#maxEntries || now - at >= this.#windowMs) this.#lastRefusal.delete(id);
      else break;
    }
  }
}
