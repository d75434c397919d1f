import { lintSource } from "@secretlint/core";
import { creator as recommendedPreset } from "@secretlint/secretlint-rule-preset-recommend";
import type { SecretLintCoreConfig } from "@secretlint/types";
import { getLogger } from "../core/logger.ts";
import { findHandles, formatHandle } from "./handles.ts";
import { MIN_SECRET_LENGTH, type Redactor } from "./redactor.ts";

const log = getLogger("secret-detector");

/** A probable secret found in pasted text. */
export interface DetectedSecret {
  /** Slug used in generated names, e.g. `github_token`, `private_key`, `password`. */
  kind: string;
  /** The secret text itself. */
  value: string;
  /** Start index in the scanned text. */
  start: number;
  /** End index (exclusive). */
  end: number;
  /** What found it: a secretlint rule id, `hearth:<rule>`, or `entropy`. */
  source: string;
}

const SECRETLINT_CONFIG: SecretLintCoreConfig = {
  rules: [{ id: "@secretlint/secretlint-rule-preset-recommend", rule: recommendedPreset }],
};

/** secretlint rule → name slug (rules not listed become `<rule>_secret`). */
const RULE_KINDS: Record<string, string> = {
  github: "github_token",
  slack: "slack_token",
  aws: "aws_key",
  privatekey: "private_key",
  basicauth: "password",
  openai: "openai_key",
  anthropic: "anthropic_key",
  gcp: "gcp_key",
  npm: "npm_token",
  gitlab: "gitlab_token",
  huggingface: "huggingface_token",
  stripe: "stripe_key",
  sendgrid: "sendgrid_key",
  "database-connection-string": "db_password",
};

/** Extra rules for common forms secretlint's preset leaves out (it targets files, not chat). */
const EXTRA_RULES: { kind: string; re: RegExp; group: number }[] = [
  { kind: "aws_key", re: /\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b/g, group: 1 },
  { kind: "jwt", re: /\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})/g, group: 1 },
  { kind: "github_token", re: /\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b/g, group: 1 },
  { kind: "slack_token", re: /\b(xox[abposr]-[A-Za-z0-9-]{10,200})\b/g, group: 1 },
  {
    kind: "private_key",
    re: /(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)/g,
    group: 1,
  },
  // password: x, pwd=x, api_key = "x", token: x … — the value is group 3 (quotes excluded).
  {
    kind: "password",
    re: /\b(pass(?:word|wd|phrase)?|pwd|pin ?code)\b\s*(?:is\s*)?[:=]\s*(["'`]?)([^\s"'`]{4,200})\2/gi,
    group: 3,
  },
  {
    kind: "api_key",
    re: /\b((?:api|app|access|auth|client|secret|private)[_-]?(?:key|token|secret)|secret|token)\b\s*[:=]\s*(["'`]?)([A-Za-z0-9_\-./+=~]{8,500})\2/gi,
    group: 3,
  },
  { kind: "bearer_token", re: /\b(Bearer)\s+([A-Za-z0-9_\-./+=~]{12,2000})/g, group: 2 },
];

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * Heuristic for "random-looking token": long (≥ 20), no URL/path/e-mail shape, mixes at least
 * three of lower/upper/digit/symbol (or is ≥ 32 chars mixing two, with no long letter runs), and
 * has high entropy relative to its length. Words, numbers, dates, amounts, order numbers (mostly
 * digits with a few letters) and hashes of ordinary shape fail one of these tests.
 */
export function looksRandom(token: string): boolean {
  if (token.length < 20 || token.length > 512) return false;
  const lower = /[a-z]/.test(token);
  const upper = /[A-Z]/.test(token);
  const digits = (token.match(/[0-9]/g) ?? []).length;
  const symbol = /[_\-+/=.~]/.test(token);
  const classes = Number(lower) + Number(upper) + Number(digits > 0) + Number(symbol);
  if (digits === 0 && !(lower && upper)) return false;
  // Receipts/orders/tracking numbers: nearly all digits.
  if (digits / token.length > 0.7) return false;
  // Human text in identifiers: long runs of letters (CamelCaseWords, snake_case_words).
  if (/[A-Za-z]{12,}/.test(token) && shannonEntropy(token) < 4.3) return false;
  const entropy = shannonEntropy(token);
  const ideal = Math.log2(Math.min(token.length, 64));
  if (classes >= 3) return entropy >= Math.min(4.0, ideal * 0.85);
  if (classes === 2 && token.length >= 32) return entropy >= Math.min(4.2, ideal * 0.85);
  return false;
}

const TOKEN_RE = /[A-Za-z0-9_\-+/=.~]{20,}/g;
const URL_RE = /\b(?:https?|ftp|wss?):\/\/[^\s<>"']+|\bwww\.[^\s<>"']+|[\w.+-]+@[\w-]+\.[\w.-]+/g;

function trimEnds(text: string, start: number, end: number): [number, number] {
  // Trailing punctuation from prose ("…token=abc.") is not part of the secret.
  while (end > start && /[.,;:!?)\]}]/.test(text[end - 1] as string)) end--;
  return [start, end];
}

/** Options for {@link detectSecrets}. */
export interface DetectOptions {
  /** Also flag long random-looking tokens with no known format (default true). */
  entropy?: boolean;
}

/**
 * Find probable secrets in pasted text: secretlint's maintained recommended rule set, a few
 * chat-oriented patterns (password:/token= forms, JWTs, bare AWS key ids) and an entropy
 * heuristic. Overlapping findings are merged, keeping the more specific (earlier-listed) kind.
 */
export async function detectSecrets(text: string, options: DetectOptions = {}): Promise<DetectedSecret[]> {
  const found: DetectedSecret[] = [];
  try {
    const result = await lintSource({
      source: { content: text, filePath: "/hearth/pasted.txt", contentType: "text" },
      options: { config: SECRETLINT_CONFIG, noPhysicFilePath: true },
    });
    for (const m of result.messages) {
      let [start, end] = m.range;
      const rule = m.ruleId.replace(/^@secretlint\/secretlint-rule-/, "");
      if (rule === "basicauth") {
        // Flag only the password of user:password@host, not the whole URL.
        const seg = text.slice(start, end);
        const mm = /:\/\/[^:/@\s]+:([^@/\s]+)@/.exec(seg);
        if (!mm) continue;
        start = start + mm.index + mm[0].length - 1 - (mm[1] as string).length;
        end = start + (mm[1] as string).length;
      }
      found.push({ kind: RULE_KINDS[rule] ?? `${rule.replace(/[^a-z0-9]+/g, "_")}_secret`, value: text.slice(start, end), start, end, source: m.ruleId });
    }
  } catch (err) {
    // secretlint failing must not let a secret through silently: fall back to our own rules.
    log.warn({ err }, "secretlint failed; using built-in rules only");
  }
  for (const rule of EXTRA_RULES) {
    // The "d" flag gives the exact span of the value group.
    for (const m of text.matchAll(new RegExp(rule.re.source, rule.re.flags + "d"))) {
      const span = m.indices?.[rule.group];
      if (span === undefined) continue;
      const [s, e] = trimEnds(text, span[0], span[1]);
      found.push({ kind: rule.kind, value: text.slice(s, e), start: s, end: e, source: `hearth:${rule.kind}` });
    }
  }
  if (options.entropy ?? true) {
    const urls: [number, number][] = [...text.matchAll(URL_RE)].map((m) => [m.index, m.index + m[0].length]);
    for (const m of text.matchAll(TOKEN_RE)) {
      const [s, e] = trimEnds(text, m.index, m.index + m[0].length);
      if (urls.some(([a, b]) => s < b && e > a)) continue;
      const tok = text.slice(s, e);
      if (looksRandom(tok)) found.push({ kind: "token", value: tok, start: s, end: e, source: "entropy" });
    }
  }
  return mergeFindings(found);
}

function mergeFindings(found: DetectedSecret[]): DetectedSecret[] {
  // Earlier entries are more specific (secretlint, then our named rules, then entropy): keep
  // them and drop anything overlapping an already-kept finding.
  const kept: DetectedSecret[] = [];
  for (const f of found) {
    if (f.end - f.start === 0) continue;
    if (kept.some((k) => f.start < k.end && f.end > k.start)) continue;
    kept.push(f);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/** What {@link captureSecrets} needs from the vault. */
export interface CaptureTarget {
  has(name: string): boolean;
  list(): { name: string }[];
  add(name: string, value: string, options?: { allowHosts?: readonly string[] }): Promise<void>;
  redactor(): Redactor;
}

/** Result of {@link captureSecrets}. */
export interface CaptureResult {
  /** The text with every stored secret replaced by its handle (and too-short ones by `[redacted]`). */
  text: string;
  /** Handles of secrets newly stored, in order. */
  handles: string[];
  /** Handles of secrets that were already in the vault. */
  known: string[];
  /** Number of findings too short to store (replaced by `[redacted]`). */
  dropped: number;
}

/**
 * Store every probable secret in `text` in the vault under a generated name
 * (`pasted_<kind>_<n>`, no allowed hosts) and return the text with handles instead of values.
 * The bot should tell the user which handles were created and delete the original message.
 */
export async function captureSecrets(text: string, vault: CaptureTarget, options: DetectOptions = {}): Promise<CaptureResult> {
  // Known secrets first: they keep their existing names.
  const pre = vault.redactor().redact(text);
  const findings = await detectSecrets(pre.text, options);
  const taken = new Set(vault.list().map((e) => e.name));
  const byValue = new Map<string, string>();
  const handles: string[] = [];
  let dropped = 0;
  let out = "";
  let pos = 0;
  const handleSpans = findHandles(pre.text);
  for (const f of findings) {
    // Handles look like `secret:name` to the password/token rules; they are not secrets.
    if (handleSpans.some((h) => f.start < h.end && f.end > h.start)) continue;
    let replacement: string;
    let meaningful = 0;
    for (const ch of f.value) if (!/\s/.test(ch)) meaningful++;
    if (meaningful < MIN_SECRET_LENGTH) {
      replacement = "[redacted]";
      dropped++;
    } else {
      let name = byValue.get(f.value);
      if (name === undefined) {
        const base = `pasted_${f.kind}`.slice(0, 60);
        let n = 1;
        while (taken.has(`${base}_${n}`) || vault.has(`${base}_${n}`)) n++;
        name = `${base}_${n}`;
        taken.add(name);
        await vault.add(name, f.value, { allowHosts: [] });
        byValue.set(f.value, name);
        handles.push(formatHandle(name));
      }
      replacement = formatHandle(name);
    }
    out += pre.text.slice(pos, f.start) + replacement;
    pos = f.end;
  }
  out += pre.text.slice(pos);
  return { text: out, handles, known: pre.hits.map(formatHandle), dropped };
}
