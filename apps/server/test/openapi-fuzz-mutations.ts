// Hostile requests for the OpenAPI fuzz test: values and mutations applied to a valid request
// (wrong types, nulls, control characters, lone surrogates, bidi controls, huge strings and numbers,
// unknown fields, deep nesting, arrays for objects, broken JSON and URL encodings).
import fc from "fast-check";
import type { Operation, RequestCase } from "./openapi-fuzz-inputs.ts";

// --- hostile values ---------------------------------------------------------------------------

// JSON text nested `depth` levels deep (objects in arrays), written as text: building it as a value
// would overflow the stack of JSON.stringify before the server ever saw it.
const deeplyNested = (depth: number) => `${'{"a":['.repeat(depth)}{}${"]}".repeat(depth)}`;

// Placeholders the request builder swaps for raw JSON text: a number JSON cannot round-trip, and
// deep nesting.
const RAW_JSON: Record<string, string> = {
  __fuzz_huge_number__: "1e400",
  __fuzz_deep_nesting__: deeplyNested(2_000),
};

export const hostileStrings: [string, string][] = [
  ["NUL", "a\u0000b"],
  ["escape control", "\u001b[31mred"],
  ["C1 control", "x\u0085y"],
  ["lone high surrogate", "x\ud800y"],
  ["lone low surrogate", "\udfff"],
  ["bidi override", "abc\u202Edef"],
  ["bidi isolate", "\u2067x\u2069"],
  ["empty", ""],
  ["whitespace", " \t "],
  ["huge string", "x".repeat(100_000)],
  // Long, yet inside Node's 16 KiB limit on a request's head, so a query string reaches the app.
  ["long string", "x".repeat(8_000)],
  ["emoji", "👩🏽‍💻"],
  ["sql", "'; DROP TABLE users; --"],
  ["number text", "1e400"],
  ["uuid nil", "00000000-0000-0000-0000-000000000000"],
];

const hostileValues: [string, unknown][] = [
  ["null", null],
  ["true", true],
  ["zero", 0],
  ["negative", -1],
  ["fraction", 1.5],
  ["max double", 1.7976931348623157e308],
  ["min double", -1.7976931348623157e308],
  ["unsafe integer", 2 ** 53 + 1],
  ["huge number literal", "__fuzz_huge_number__"],
  ["empty array", []],
  ["empty object", {}],
  ["deep nesting", "__fuzz_deep_nesting__"],
  ...hostileStrings.map(([name, value]): [string, unknown] => [`string: ${name}`, value]),
];

const hostileValue = fc.constantFrom(...hostileValues);

export function jsonText(value: unknown): string {
  let text = JSON.stringify(value);
  for (const [token, raw] of Object.entries(RAW_JSON)) text = text.replaceAll(`"${token}"`, raw);
  return text;
}

// URL-encodes, except where the mutation wants the raw bytes through (invalid percent-encoding).
export const encode = (value: string) => {
  try {
    return encodeURIComponent(value);
  } catch {
    // A lone surrogate cannot be URL-encoded: send the bytes UTF-8 would refuse to decode.
    return "%ED%A0%80";
  }
};

export function queryText(entries: [string, unknown][]): string {
  const parts: string[] = [];
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) parts.push(`${encode(key)}=${encode(typeof item === "string" ? item : jsonText(item))}`);
  }
  return parts.join("&");
}

const RAW_QUERY_VALUES = [
  "%FF",
  "%",
  "%E0%A4",
  "%00",
  "%ED%A0%80",
  "a%2Fb",
  "1e400",
  "NaN",
  "-0",
  "99999999999999999999",
];
const RAW_PATH_VALUES = ["not-a-uuid", "%FF", "%00", "..", "%2E%2E%2F%2E%2E", "x".repeat(5_000), "%ED%A0%80", "ABC%2F"];

export type Input = {
  path: Record<string, string>;
  query: [string, unknown][];
  body: Record<string, unknown> | undefined;
};
export type Mutate = (base: RequestCase, input: Input) => RequestCase;

export function mutationOf(op: Operation): fc.Arbitrary<Mutate | null> {
  const mutations: fc.Arbitrary<Mutate>[] = [];
  if (op.body) {
    const keys = Object.keys(op.body.properties ?? {});
    mutations.push(
      fc.tuple(fc.constantFrom(...keys, "unknownField", "__proto__"), hostileValue).map(
        ([key, [name, value]]): Mutate =>
          (base, input) => ({
            ...base,
            mutation: `body.${key} = ${name}`,
            body: jsonText({ ...input.body, [key]: value }),
          }),
      ),
      fc
        .constantFrom<[string, string]>(
          ["body: array of the object", "[{}]"],
          ["body: null", "null"],
          ["body: string", '"text"'],
          ["body: number", "42"],
          ["body: broken JSON", '{"amount": '],
          ["body: deep nesting", deeplyNested(5_000)],
          ["body: duplicate keys", '{"amount": 1, "amount": "1"}'],
        )
        .map(
          ([name, text]): Mutate =>
            (base, input) => ({
              ...base,
              mutation: name,
              body: name === "body: array of the object" ? `[${jsonText(input.body)}]` : text,
            }),
        ),
    );
  }
  if (!op.body && op.method !== "GET") {
    mutations.push(
      fc
        .constantFrom<[string, string]>(
          ["unexpected body: object", '{"unknownField": 1}'],
          ["unexpected body: array", "[]"],
          ["unexpected body: broken JSON", "{"],
        )
        .map(
          ([name, text]): Mutate =>
            (base) => ({ ...base, mutation: name, body: text }),
        ),
    );
  }
  if (op.queryParams.length > 0 || op.method === "GET") {
    const names = [...op.queryParams.map((p) => p.name), "unknownParam"];
    // A 100 KB query string never reaches the app: Node refuses the request head (431) first.
    const values = hostileStrings.filter(([name]) => name !== "huge string");
    mutations.push(
      fc
        .tuple(
          fc.constantFrom(...names),
          fc.constantFrom(...values, ...RAW_QUERY_VALUES.map((v): [string, string] => [v, v])),
        )
        .map(
          ([key, [name, value]]): Mutate =>
            (base) => {
              const raw = RAW_QUERY_VALUES.includes(value) ? value : encode(value);
              return { ...base, mutation: `query ${key} = ${name}`, query: `${base.query}&${key}=${raw}` };
            },
        ),
    );
  }
  if (op.pathParams.length > 0) {
    mutations.push(
      fc.tuple(fc.constantFrom(...op.pathParams.map((p) => p.name)), fc.constantFrom(...RAW_PATH_VALUES)).map(
        ([key, raw]): Mutate =>
          (base) => ({
            ...base,
            mutation: `path ${key} = ${raw.slice(0, 20)}`,
            pathParams: { ...base.pathParams, [key]: raw },
          }),
      ),
    );
  }
  if (mutations.length === 0) return fc.constant(null);
  return fc.oneof(fc.constant(null), fc.oneof(...mutations));
}
