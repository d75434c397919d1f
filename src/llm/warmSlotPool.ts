import { AbortedError } from "../core/errors.ts";

/**
 * A bounded pool of "warm" slots (one per conversation), shared by concurrent requests.
 *
 * The llama.cpp engine keeps one context sequence per chat so a follow-up turn only evaluates the
 * new tokens. There are only as many sequences as the context was created with, so this pool
 * decides who gets which one:
 *
 * - a conversation that already owns a slot gets that same slot back (its KV cache is still warm);
 * - two requests of the same conversation never run at once (they share state), the second waits;
 * - a new conversation takes a never-used slot, else the least recently used idle one (the caller
 *   is told to clear it), else it waits in FIFO order until a slot is released;
 * - waiting is abortable and an aborted waiter loses nothing and blocks no one.
 *
 * The pool is generic so its scheduling can be tested without a model.
 */

/** A slot handed to one request; call {@link SlotLease.release} exactly once when done. */
export interface SlotLease<T> {
  readonly value: T;
  /** True when the slot was last used by another conversation (or never): its state must be cleared/rebuilt. */
  readonly reassigned: boolean;
  /** The conversation the slot belonged to before, when `reassigned` took it from someone else. */
  readonly evictedKey: string | undefined;
  release(): void;
}

interface Slot<T> {
  value: T;
  key: string | undefined;
  busy: boolean;
  lastUsed: number;
}

interface Waiter<T> {
  key: string;
  resolve(lease: SlotLease<T>): void;
  reject(err: unknown): void;
  cleanup(): void;
}

/** Options of {@link WarmSlotPool}. */
export interface WarmSlotPoolOptions<T> {
  /** Maximum number of slots (≥ 1). */
  capacity: number;
  /** Creates a slot's value the first time it is needed (slots are created lazily). */
  create(): T;
}

/** LRU pool of per-conversation slots with a FIFO, abortable wait queue. */
export class WarmSlotPool<T> {
  private readonly slots: Slot<T>[] = [];
  private readonly waiters: Waiter<T>[] = [];
  private readonly capacity: number;
  private readonly create: () => T;
  private clock = 0;
  private closed = false;

  constructor(options: WarmSlotPoolOptions<T>) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError("capacity must be an integer ≥ 1");
    this.capacity = options.capacity;
    this.create = options.create;
  }

  /** Number of requests waiting for a slot. */
  get queued(): number {
    return this.waiters.length;
  }

  /** Values of all slots created so far (for disposal). */
  get values(): T[] {
    return this.slots.map((s) => s.value);
  }

  /** Get a slot for conversation `key`, waiting (FIFO) if none is free. Rejects with AbortedError on abort. */
  acquire(key: string, signal?: AbortSignal): Promise<SlotLease<T>> {
    if (this.closed) return Promise.reject(new Error("pool is closed"));
    if (signal?.aborted) return Promise.reject(new AbortedError({ cause: signal.reason }));
    // Always queue and then drain: earlier waiters get first pick, so arrival order is kept.
    return new Promise<SlotLease<T>>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new AbortedError({ cause: signal?.reason }));
        // Our leaving may unblock someone queued behind us for the same conversation's slot.
        this.drain();
      };
      const waiter: Waiter<T> = {
        key,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
      this.drain();
    });
  }

  /** The slot currently owned by `key`, if any (busy or not). */
  owned(key: string): T | undefined {
    return this.slots.find((s) => s.key === key)?.value;
  }

  /**
   * Detach `key` from its slot so its next request starts cold. Returns the slot value when it
   * was idle (the caller may clear it now); a busy slot is detached and cleared on its next reuse.
   */
  forget(key: string): T | undefined {
    const slot = this.slots.find((s) => s.key === key);
    if (!slot) return undefined;
    slot.key = undefined;
    return slot.busy ? undefined : slot.value;
  }

  /** Reject all waiters and refuse new requests. */
  close(reason: unknown): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      w.cleanup();
      w.reject(reason);
    }
  }

  private tryTake(key: string): SlotLease<T> | undefined {
    const own = this.slots.find((s) => s.key === key);
    if (own) return own.busy ? undefined : this.lease(own, key, undefined);
    if (this.slots.length < this.capacity) {
      const slot: Slot<T> = { value: this.create(), key: undefined, busy: false, lastUsed: 0 };
      this.slots.push(slot);
      return this.lease(slot, key, undefined);
    }
    let lru: Slot<T> | undefined;
    for (const s of this.slots) if (!s.busy && (lru === undefined || s.lastUsed < lru.lastUsed)) lru = s;
    if (!lru) return undefined;
    return this.lease(lru, key, lru.key);
  }

  private lease(slot: Slot<T>, key: string, evictedKey: string | undefined): SlotLease<T> {
    const reassigned = slot.key !== key;
    slot.busy = true;
    slot.key = key;
    slot.lastUsed = ++this.clock;
    let released = false;
    return {
      value: slot.value,
      reassigned,
      evictedKey,
      release: () => {
        if (released) return;
        released = true;
        slot.busy = false;
        slot.lastUsed = ++this.clock;
        this.drain();
      },
    };
  }

  private drain(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      const lease = this.tryTake(w.key);
      if (lease) {
        this.waiters.splice(i, 1);
        w.cleanup();
        w.resolve(lease);
      } else i++;
    }
  }
}
