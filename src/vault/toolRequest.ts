import { VaultError } from "../core/errors.ts";
import { findHandles, replaceHandles } from "./handles.ts";
import type { Redactor } from "./redactor.ts";

/** An outgoing HTTP request a tool wants to make, possibly containing secret handles. */
export interface ToolRequest {
  url: string;
  method: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What {@link expandForRequest} needs from the vault. */
export interface SecretLookup {
  /** Value of a secret (throws a VaultError naming it if unknown/damaged). */
  get(name: string): string;
  /** Normalised allowlist (`host` or `host:port`) of a secret. */
  allowedHosts(name: string): string[];
}

const DEFAULT_PORTS: Record<string, string> = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443" };

function parseTarget(rawUrl: string): { host: string; port: string; url: URL } {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch (err) {
    throw new VaultError("VAULT_BAD_REQUEST_URL", `The tool request URL is not a valid absolute URL, so no secret can be sent with it.`, { cause: err });
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  return { host, port: url.port !== "" ? url.port : (DEFAULT_PORTS[url.protocol] ?? ""), url };
}

/** True if `host:port` is covered by one allowlist entry (exact host; port only if the entry has one). */
export function hostAllowed(allow: readonly string[], host: string, port: string): boolean {
  for (const entry of allow) {
    const m = /^(.*?)(?::(\d+))?$/.exec(entry);
    const h = (m?.[1] ?? entry).toLowerCase().replace(/\.$/, "");
    const p = m?.[2];
    if (h === host && (p === undefined || p === port)) return true;
  }
  return false;
}

/**
 * Substitute `{{secret:NAME}}` handles in an outgoing request with their values — but only for
 * secrets whose allowlist contains the request's host (exact, case-insensitive, port-aware when
 * the allowlist entry names a port). Any other handle makes the whole request fail with a
 * VaultError naming the handle and the host (never the value). Values substituted into the URL
 * are percent-encoded; header and body values are inserted verbatim.
 *
 * The handle must not appear in the URL's authority (host/user/port): the destination is decided
 * before expansion and re-checked after it.
 */
export function expandForRequest(request: ToolRequest, vault: SecretLookup): ToolRequest {
  const target = parseTarget(request.url);
  const authorityEnd = request.url.indexOf("/", request.url.indexOf("//") + 2);
  const authority = request.url.slice(0, authorityEnd === -1 ? undefined : authorityEnd);
  if (findHandles(authority).length > 0 || findHandles(decodeURIComponentSafe(target.url.host)).length > 0) {
    throw new VaultError("VAULT_HANDLE_IN_HOST", "A secret handle may not be part of a request's host name or user info; put it in a header or the body.");
  }
  const hostLabel = target.port === (DEFAULT_PORTS[target.url.protocol] ?? "") ? target.host : `${target.host}:${target.port}`;
  const resolve = (name: string): string => {
    const allow = vault.allowedHosts(name); // throws for unknown / damaged names
    if (!hostAllowed(allow, target.host, target.port)) {
      throw new VaultError(
        "VAULT_HOST_NOT_ALLOWED",
        `The secret {{secret:${name}}} may not be sent to ${hostLabel}. If that is intended, allow it: hearth vault add ${name} --allow-host ${hostLabel}`,
      );
    }
    return vault.get(name);
  };
  const url = replaceHandles(request.url, (name) => encodeURIComponent(resolve(name)));
  const after = parseTarget(url);
  if (after.host !== target.host || after.port !== target.port) {
    throw new VaultError("VAULT_HANDLE_IN_HOST", "Expanding secrets would change the request's destination; refusing.");
  }
  const out: ToolRequest = { url, method: request.method };
  if (request.headers !== undefined) {
    out.headers = {};
    for (const [k, v] of Object.entries(request.headers)) out.headers[k] = replaceHandles(v, resolve);
  }
  if (request.body !== undefined) out.body = replaceHandles(request.body, resolve);
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Redact a tool's output before the model sees it (responses may echo tokens back). */
export function redactToolResult(text: string, redactor: Redactor): { text: string; hits: string[] } {
  return redactor.redact(text);
}
