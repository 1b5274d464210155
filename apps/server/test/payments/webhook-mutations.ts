// The mutations of the webhook fuzzing (webhook-fuzz.test.ts): body and header operations on a
// validly signed Stripe event, and the signature acceptance rule they are judged by.
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { WEBHOOK_SECRET } from "./helpers.ts";

const TOLERANCE_S = 300;
const MAX_HEADER = 2_048;

export const format = (event: unknown) => JSON.stringify(event, null, 2);
const hmac = (timestamp: number | string, body: string) =>
  createHmac("sha256", WEBHOOK_SECRET).update(`${timestamp}.${body}`, "utf8").digest("hex");
export const header = (timestamp: number, body: string, secret = WEBHOOK_SECRET) =>
  `t=${timestamp},v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex")}`;

// The acceptance rule, written from the documentation (Stripe's scheme plus our stricter header
// checks), not from the server's code: the oracle for what must be refused.
export function signatureAccepted(body: string, sent: string | null, nowS: number): boolean {
  if (sent === null || body === "") return false;
  const value = sent.replace(/^[\t ]+|[\t ]+$/g, ""); // HTTP strips surrounding whitespace
  if (value === "" || value.length > MAX_HEADER) return false;
  const parts = value.split(",");
  const stamps = parts.filter((part) => part.startsWith("t=")).map((part) => part.slice(2));
  if (stamps.length !== 1 || !/^\d{1,12}$/.test(stamps[0] ?? "")) return false;
  if (Number(stamps[0]) > nowS + TOLERANCE_S) return false;
  // Stripe's parser: the last element keyed "t", every element keyed "v1" (split on "=").
  let timestamp = Number.NaN;
  const signatures: string[] = [];
  for (const part of parts) {
    const [key, v] = part.split("=");
    if (key === "t") timestamp = Number.parseInt(v ?? "", 10);
    if (key === "v1" && v !== undefined) signatures.push(v);
  }
  if (!signatures.includes(hmac(timestamp, body))) return false;
  return nowS - timestamp <= TOLERANCE_S;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const at = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
// Paths that matter to the handlers, tried more often than the rest of the fixture's tree.
const HOT_PATHS = [
  ["id"],
  ["type"],
  ["object"],
  ["data"],
  ["data", "object"],
  ["data", "object", "object"],
  ["data", "object", "id"],
  ["data", "object", "client_reference_id"],
  ["data", "object", "metadata"],
  ["data", "object", "metadata", "paymentId"],
  ["data", "object", "amount_total"],
  ["data", "object", "currency"],
  ["data", "object", "status"],
  ["data", "object", "payment_status"],
  ["data", "object", "payment_intent"],
  ["data", "object", "amount"],
  ["data", "object", "amount_refunded"],
  ["data", "object", "charge"],
];
const replacement: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1, 1.5, 2 ** 53, 1e21, -0.5, [], {}, "", " "),
  fc.constantFrom<Json>(
    "paid",
    "unpaid",
    "no_payment_required",
    "complete",
    "expired",
    "open",
    "won",
    "lost",
    "warning_closed",
    "needs_response",
    "usd",
    "USD",
    "eur",
    "event",
    "checkout.session",
    "charge",
    "dispute",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    "order-1234",
    "\u0000",
    "🙂",
    "x".repeat(300),
  ),
  fc.integer({ min: -1_000_000, max: 1_000_000_000_000 }),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.uuid(),
  // Longer than any Stripe id (255) and than a btree index entry can hold (~2.7 kB).
  { weight: 1, arbitrary: fc.string({ minLength: 3_000, maxLength: 4_000 }) },
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), { maxKeys: 3 }),
);

export type BodyOp =
  | { op: "flip"; at: number; bit: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; char: number }
  | { op: "delete-field"; hot: boolean; pick: number }
  | { op: "replace-field"; hot: boolean; pick: number; value: Json };

export const bodyOp: fc.Arbitrary<BodyOp> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at, bit: fc.integer({ min: 0, max: 6 }) }),
  fc.record({ op: fc.constant("truncate" as const), at }),
  fc.record({ op: fc.constant("insert" as const), at, char: fc.integer({ min: 0x20, max: 0x7e }) }),
  fc.record({ op: fc.constant("delete-field" as const), hot: fc.boolean(), pick: fc.nat() }),
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("replace-field" as const),
      hot: fc.boolean(),
      pick: fc.nat(),
      value: replacement,
    }),
  },
);

export type HeaderOp =
  | { op: "char"; at: number; char: number }
  | { op: "truncate"; at: number }
  | { op: "drop-t" | "drop-v1" | "reorder" | "v0" | "upper" | "spaces" | "long" | "missing" | "empty" | "wrong-secret" }
  | { op: "dup-t"; delta: number }
  | { op: "extra-v1"; hex: string; first: boolean }
  | { op: "age"; seconds: number };

export const headerOp: fc.Arbitrary<HeaderOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant("char" as const), at, char: fc.integer({ min: 0x20, max: 0x7e }) }),
  },
  fc.record({ op: fc.constant("truncate" as const), at }),
  fc.record({
    op: fc.constantFrom(
      "drop-t" as const,
      "drop-v1" as const,
      "reorder" as const,
      "v0" as const,
      "upper" as const,
      "spaces" as const,
      "long" as const,
      "missing" as const,
      "empty" as const,
      "wrong-secret" as const,
    ),
  }),
  fc.record({ op: fc.constant("dup-t" as const), delta: fc.integer({ min: -5, max: 5 }) }),
  fc.record({ op: fc.constant("extra-v1" as const), hex: fc.stringMatching(/^[0-9a-f]{64}$/), first: fc.boolean() }),
  // Signed at another time: inside the window either way is fine, outside is refused. The
  // exact boundary is left out (the server's clock may tick between signing and checking).
  fc.record({
    op: fc.constant("age" as const),
    seconds: fc.oneof(
      fc.integer({ min: -280, max: 280 }),
      fc.integer({ min: 320, max: 100_000 }),
      fc.integer({ min: -100_000, max: -320 }),
    ),
  }),
);

export type Mutation =
  | { kind: "tampered"; base: number; ops: BodyOp[] }
  // newId: sent as a new event (Stripe would give it its own id), so the mutated content is
  // applied rather than answered as a duplicate of the base event.
  | { kind: "resigned"; base: number; newId: boolean; ops: BodyOp[] }
  | { kind: "header"; base: number; op: HeaderOp }
  | { kind: "intact"; base: number };

function paths(value: Json, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== "object") return [prefix];
  const children = Array.isArray(value)
    ? value.flatMap((child, index) => paths(child, [...prefix, String(index)]))
    : Object.entries(value).flatMap(([key, child]) => paths(child, [...prefix, key]));
  return prefix.length ? [prefix, ...children] : children;
}

// Values stored under a unique constraint (a session, payment intent or charge id) get a suffix
// unique to the case: two forged events naming the same provider id for two different payments
// are refused by the database by design, and would only measure that collision.
function distinct(path: string[], value: Json, caseIndex: number): Json {
  const key = path.at(-1);
  const isRef = key === "id" || key === "payment_intent" || key === "charge";
  return isRef && typeof value === "string" && value !== "" ? `${value}_${caseIndex}` : value;
}

function setAt(root: Json, path: string[], value: Json | undefined): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== "object") return;
    node = (node as Record<string, Json>)[key] ?? null;
  }
  const last = path.at(-1);
  if (last === undefined || node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    const index = Number(last);
    if (value === undefined) node.splice(index, 1);
    else node[index] = value;
  } else if (value === undefined) delete node[last];
  else node[last] = value;
}

export function applyBodyOp(body: string, op: BodyOp, caseIndex: number): string {
  const index = (fraction: number) => Math.floor(fraction * body.length);
  switch (op.op) {
    case "flip": {
      const i = index(op.at);
      return body.slice(0, i) + String.fromCharCode(body.charCodeAt(i) ^ (1 << op.bit)) + body.slice(i + 1);
    }
    case "truncate":
      return body.slice(0, index(op.at));
    case "insert": {
      const i = index(op.at);
      return body.slice(0, i) + String.fromCharCode(op.char) + body.slice(i);
    }
    case "delete-field":
    case "replace-field": {
      let parsed: Json;
      try {
        parsed = JSON.parse(body) as Json;
      } catch {
        return body;
      }
      const all = paths(parsed);
      const path = op.hot ? HOT_PATHS[op.pick % HOT_PATHS.length] : all[op.pick % Math.max(all.length, 1)];
      if (!path || path.length === 0) return body;
      setAt(parsed, path, op.op === "delete-field" ? undefined : distinct(path, op.value, caseIndex));
      return format(parsed);
    }
  }
}

export function applyHeaderOp(genuine: string, body: string, signedAt: number, op: HeaderOp): string | null {
  const [t = "", v1 = ""] = genuine.split(",");
  switch (op.op) {
    case "char": {
      const i = Math.floor(op.at * genuine.length);
      return genuine.slice(0, i) + String.fromCharCode(op.char) + genuine.slice(i + 1);
    }
    case "truncate":
      return genuine.slice(0, Math.floor(op.at * genuine.length));
    case "drop-t":
      return v1;
    case "drop-v1":
      return t;
    case "reorder":
      return `${v1},${t}`;
    case "v0":
      return `${t},${v1.replace("v1=", "v0=")}`;
    case "upper":
      return genuine.toUpperCase();
    case "spaces":
      return `${t}, ${v1}`;
    case "long":
      return `${genuine},${"v0=".padEnd(MAX_HEADER, "0")}`;
    case "missing":
      return null;
    case "empty":
      return "";
    case "wrong-secret":
      return header(signedAt, body, "whsec_fuzz_wrong_secret");
    case "dup-t":
      return `${genuine},t=${signedAt + op.delta}`;
    case "extra-v1":
      return op.first ? `${t},v1=${op.hex},${v1}` : `${genuine},v1=${op.hex}`;
    case "age":
      return header(signedAt - op.seconds, body);
  }
}

export interface Case {
  index: number;
  mutation: Mutation;
  body: string;
  signature: string | null;
  accepted: boolean;
}
