// One redaction function for everything that leaves the process as text: log lines, error
// responses, error reports, span attributes. It works on values (by key) and on free text (by
// pattern), so a secret is caught whether it arrives as `{ password }` or inside a message.

export const REDACTED = "[redacted]";

// Keys whose values are never shown, whatever they hold.
const SECRET_KEY = /passw|secret|token|authori[sz]ation|cookie|api[-_]?key|signature|credential|^key$/i;
const EMAIL_KEY = /e-?mail/i;

// Bounds: a pathological object costs a bounded amount of work, and a cycle terminates.
const MAX_DEPTH = 8;
const MAX_ARRAY_ITEMS = 100;
const MAX_STRING_LENGTH = 8_192;

// Database errors. drizzle's DrizzleQueryError (and a TRPCError copying its message) reads
// "Failed query: <sql>\nparams: <every parameter>": the parameters are the row being written (a
// new password's hash, an API key's hash, an email), so nothing after "params:" is ever kept, and
// string literals in the SQL text lose their values. PostgreSQL's data exceptions (SQLSTATE class
// 22: invalid input syntax, out of range) quote the offending value in the message itself. The
// drivers' own `query`/`parameters`/`params`/`detail` properties are never copied (errorFields).
// Also a text rule (below), for the same text arriving any other way (a message interpolated into
// another); everything after "params: " goes, since a parameter may itself hold a newline.
const QUERY_PARAMS = /(Failed query: [\s\S]*?\nparams: )(?!\[redacted\])[\s\S]*/g;

// Order matters: a credential scheme's token goes before the name=value rule, which would
// otherwise take the scheme word (`Authorization: Bearer`) for the value and leave the token.
const TEXT_RULES: [RegExp, string][] = [
  [QUERY_PARAMS, `$1${REDACTED}`],
  [/\b(Bearer|Basic)\s+[\w.~+/=-]+/gi, `$1 ${REDACTED}`],
  // name=value and "name": "value" pairs whose name says secret (query strings, JSON in text).
  [
    /(["']?\b(?:password|passwd|secret|token|api[-_]?key|authorization|cookie|signature)\b["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&}]+)/gi,
    `$1${REDACTED}`,
  ],
  // Our session cookie (`session=` or `__Host-session=`), in a Cookie or Set-Cookie header.
  [/\b((?:__Host-)?session=)[^;\s"',]+/gi, `$1${REDACTED}`],
  // Stripe secret and restricted keys (sk_live_…, sk_test_…, rk_…), webhook secrets, our API keys.
  [/\b(?:sk|rk)_[A-Za-z0-9_]{6,}/g, "[stripe-key]"],
  [/\bwhsec_[A-Za-z0-9_]{6,}/g, "[webhook-secret]"],
  [/\bck_[a-z2-7]{16,}/g, "[api-key]"],
  // A Stripe-Signature header value: t=…,v1=…(,v0=…).
  [/\bt=\d+(?:,\s*v\d+=[0-9a-fA-F]+)+/g, "[signature]"],
  [/\bv1=[0-9a-fA-F]{32,}/g, "[signature]"],
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, "[email]"],
  // Card-like numbers: 13 to 19 digits, plain or in groups of four (or Amex's 4-6-5).
  [/\b(?:\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5}|\d{13,19})\b/g, "[card]"],
];

// Values in the SQL text and in PostgreSQL's data-exception messages (see QUERY_PARAMS above).
const SQL_STRING_LITERAL = /'(?:[^']|'')*'/g;
const QUOTED_VALUE = /"(?:[^"\\]|\\.)*"/g;

function withoutQueryValues(message: string, code: unknown): string {
  let out = message;
  if (out.includes("Failed query: ")) {
    out = out.replace(QUERY_PARAMS, `$1${REDACTED}`).replace(SQL_STRING_LITERAL, "'?'");
  }
  if (typeof code === "string" && /^22[0-9A-Z]{3}$/.test(code)) out = out.replace(QUOTED_VALUE, '"?"');
  return out;
}

// The stack repeats the message on its first line(s): it gets the cleaned message; if the message
// cannot be found there, only the frames are kept.
function stackWith(error: Error, message: string): string {
  const stack = error.stack ?? "";
  const at = error.message ? stack.indexOf(error.message) : -1;
  if (at >= 0) return stack.slice(0, at) + message + stack.slice(at + error.message.length);
  return [`${error.name}: ${message}`, ...stack.split("\n").filter((line) => /^\s+at /.test(line))].join("\n");
}

export function redactText(text: string): string {
  let out = text.length > MAX_STRING_LENGTH ? `${text.slice(0, MAX_STRING_LENGTH)}…[truncated]` : text;
  for (const [pattern, replacement] of TEXT_RULES) out = out.replace(pattern, replacement);
  return out;
}

// A deep copy with secrets removed. Errors become { type, message, stack } (redacted), since
// their own properties (a driver's query text, an SDK's raw response) are not safe to keep.
export function redact(value: unknown): unknown {
  return walk(value, 0, new WeakSet());
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === "string") return redactText(value);
  if (value === null || typeof value !== "object") return typeof value === "bigint" ? value.toString() : value;
  if (value instanceof Date) return value;
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[too deep]";
  seen.add(value);
  try {
    if (value instanceof Error) return errorFields(value, depth, seen);
    if (Array.isArray(value)) return value.slice(0, MAX_ARRAY_ITEMS).map((item) => walk(item, depth + 1, seen));
    if (value instanceof Headers) return walk(Object.fromEntries(value.entries()), depth, seen);
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = redactEntry(key, item, depth, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

function redactEntry(key: string, value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || value === undefined || value === "") return value;
  if (SECRET_KEY.test(key)) return REDACTED;
  if (EMAIL_KEY.test(key) && typeof value === "string") return "[email]";
  return walk(value, depth + 1, seen);
}

function errorFields(error: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  const message = withoutQueryValues(error.message, code);
  const fields: Record<string, unknown> = { type: error.name, message: redactText(message) };
  if (error.stack) fields.stack = redactText(stackWith(error, message));
  if (typeof code === "string" || typeof code === "number") fields.code = code;
  if (error.cause !== undefined) fields.cause = walk(error.cause, depth + 1, seen);
  return fields;
}
