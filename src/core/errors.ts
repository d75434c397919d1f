import { randomBytes } from "node:crypto";

/**
 * Base class of every error Hearth expects and can explain.
 *
 * `userMessage` is safe to show in chat: it never contains secret values and says how to fix the
 * problem. `message` (for logs) may carry more detail, still without secrets. Anything thrown that
 * is not a HearthError is "unknown" and is shown to users only as a reference id.
 */
export class HearthError extends Error {
  /** Stable machine-readable code, e.g. `CONFIG_INVALID`. */
  readonly code: string;
  /** Short text for the person in the chat or at the terminal. */
  readonly userMessage: string;

  constructor(code: string, userMessage: string, options?: { cause?: unknown; detail?: string }) {
    super(options?.detail ?? userMessage, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.userMessage = userMessage;
  }
}

/** The configuration file or environment holds a value Hearth cannot use. */
export class ConfigError extends HearthError {
  constructor(userMessage: string, options?: { cause?: unknown }) {
    super("CONFIG_INVALID", userMessage, options);
  }
}

/** Something the user sent cannot be processed (bad command, unreadable image, too large…). */
export class InputError extends HearthError {
  constructor(code: string, userMessage: string, options?: { cause?: unknown }) {
    super(code, userMessage, options);
  }
}

/** The sender may not do this. */
export class AccessDeniedError extends HearthError {
  constructor(userMessage: string) {
    super("ACCESS_DENIED", userMessage);
  }
}

/** The language model is missing, unloadable or failed. */
export class ModelError extends HearthError {
  constructor(code: string, userMessage: string, options?: { cause?: unknown }) {
    super(code, userMessage, options);
  }
}

/** The vault is locked, tampered with or cannot be opened. */
export class VaultError extends HearthError {
  constructor(code: string, userMessage: string, options?: { cause?: unknown }) {
    super(code, userMessage, options);
  }
}

/** An external service (Home Assistant, homeserver, Bot API) is unreachable or refused. */
export class ServiceError extends HearthError {
  constructor(code: string, userMessage: string, options?: { cause?: unknown }) {
    super(code, userMessage, options);
  }
}

/** A long operation was cancelled through its AbortSignal. */
export class AbortedError extends HearthError {
  constructor(options?: { cause?: unknown }) {
    super("ABORTED", "Cancelled.", options);
  }
}

/** Short random id that ties an "unknown error" reply to its log line. */
export function newErrorRef(): string {
  return randomBytes(4).toString("hex");
}

/** True if `err` is (or wraps) an abort. */
export function isAbortError(err: unknown): boolean {
  if (err instanceof AbortedError) return true;
  return err instanceof Error && (err.name === "AbortError" || (err as { code?: string }).code === "ABORT_ERR");
}
