/**
 * Secret handles: the only form in which the model, the logs and the chat history ever see a
 * secret. A handle is `{{secret:NAME}}` where NAME matches {@link SECRET_NAME_PATTERN}.
 */

/** Allowed secret names: lower-case ASCII letters, digits and `_`, 1–64 characters. */
export const SECRET_NAME_PATTERN = /^[a-z0-9_]{1,64}$/;

/** Global pattern that finds handles in text; group 1 is the name. */
const HANDLE_RE = /\{\{secret:([a-z0-9_]{1,64})\}\}/g;

/** True if `name` is a valid secret name. */
export function isValidSecretName(name: string): boolean {
  return SECRET_NAME_PATTERN.test(name);
}

/** The handle text for a secret name, e.g. `formatHandle("ha_token")` → `{{secret:ha_token}}`. */
export function formatHandle(name: string): string {
  if (!isValidSecretName(name)) throw new TypeError(`invalid secret name: ${JSON.stringify(name)}`);
  return `{{secret:${name}}}`;
}

/** If `text` is exactly one handle, its name; otherwise `undefined`. */
export function parseHandle(text: string): string | undefined {
  const m = /^\{\{secret:([a-z0-9_]{1,64})\}\}$/.exec(text);
  return m?.[1];
}

/** One handle occurrence in a text. */
export interface HandleMatch {
  /** Secret name inside the handle. */
  name: string;
  /** Index of the first `{`. */
  start: number;
  /** Index just past the last `}`. */
  end: number;
}

/** Every handle occurrence in `text`, in order. */
export function findHandles(text: string): HandleMatch[] {
  const out: HandleMatch[] = [];
  for (const m of text.matchAll(HANDLE_RE)) {
    out.push({ name: m[1] as string, start: m.index, end: m.index + m[0].length });
  }
  return out;
}

/**
 * Replace every handle in `text` with `replace(name)`. The callback may throw to refuse a handle;
 * this is how the tool boundary enforces allowlists.
 */
export function replaceHandles(text: string, replace: (name: string) => string): string {
  return text.replace(HANDLE_RE, (_whole, name: string) => replace(name));
}
