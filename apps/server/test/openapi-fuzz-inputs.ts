// Inputs for the OpenAPI fuzz test (openapi-fuzz.test.ts): requests built from an operation of the
// published document, valid ones generated from its JSON Schemas and hostile ones made by mutating
// a valid one (wrong types, nulls, control characters, lone surrogates, bidi controls, huge strings
// and numbers, unknown fields, deep nesting, arrays for objects, broken JSON and URL encodings).
import fc from "fast-check";

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema and JSON values walked by the generator
export type Json = any;

export interface Operation {
  id: string;
  method: string;
  // The template, e.g. /credits/holds/{holdId}/capture.
  path: string;
  pathParams: { name: string; schema: Json }[];
  queryParams: { name: string; schema: Json; required: boolean }[];
  body: Json | undefined;
  responses: Record<string, Json | null>;
}

// One request, as raw text, so a mutation can also break the encodings themselves.
export interface RequestCase {
  mutation: string;
  pathParams: Record<string, string>;
  query: string;
  // The JSON text sent with content-type application/json; undefined: no body.
  body: string | undefined;
}

// Known ids by parameter or field name (and per operation), so valid inputs reach real rows.
export type Pools = (operationId: string, field: string) => string[];

const METHODS = ["get", "post", "put", "patch", "delete"];

export function operationsOf(doc: Json): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const params: Json[] = op.parameters ?? [];
      const responses: Record<string, Json | null> = {};
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        responses[status] = response.content?.["application/json"]?.schema ?? null;
      }
      operations.push({
        id: op.operationId,
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === "path").map((p) => ({ name: p.name, schema: p.schema })),
        queryParams: params
          .filter((p) => p.in === "query")
          .map((p) => ({ name: p.name, schema: p.schema, required: p.required === true })),
        body: op.requestBody?.content?.["application/json"]?.schema,
        responses,
      });
    }
  }
  return operations;
}

// --- valid values, from the schemas -------------------------------------------------------------

const DATE_RANGE = {
  min: new Date("2026-01-01T00:00:00Z"),
  max: new Date("2027-12-31T00:00:00Z"),
  noInvalidDate: true,
};

function stringOf(schema: Json, known: string[]): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.min(schema.maxLength ?? 40, 40);
  if (schema.format === "uuid") return known.length > 0 ? fc.constantFrom(...known) : fc.uuid({ version: 4 });
  if (schema.format === "email") return fc.uuid().map((id) => `fuzz-${id.slice(0, 8)}@example.test`);
  if (schema.format === "date-time") return fc.date(DATE_RANGE).map((d) => d.toISOString());
  if (schema.format === "date") return fc.date(DATE_RANGE).map((d) => d.toISOString().slice(0, 10));
  if (known.length > 0) return fc.constantFrom(...known);
  if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern), { maxLength });
  return fc.string({ minLength, maxLength: Math.max(minLength, maxLength) });
}

function integerOf(schema: Json): fc.Arbitrary<number> {
  const min = schema.minimum ?? -1_000_000;
  const max = schema.maximum ?? 1_000_000;
  // Mostly small amounts (a balance can pay them), sometimes anywhere in the range.
  const small = fc.integer({ min: Math.max(min, Math.min(1, max)), max: Math.min(max, Math.max(min, 5)) });
  return fc.oneof({ weight: 3, arbitrary: small }, fc.integer({ min, max }));
}

export function arbitraryOf(schema: Json, field: string, known: (field: string) => string[]): fc.Arbitrary<unknown> {
  if (schema === undefined || schema === null) return fc.constant({});
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf || schema.oneOf) {
    return fc.oneof(...(schema.anyOf ?? schema.oneOf).map((s: Json) => arbitraryOf(s, field, known)));
  }
  if (Array.isArray(schema.type)) {
    return fc.oneof(...schema.type.map((type: string) => arbitraryOf({ ...schema, type }, field, known)));
  }
  switch (schema.type) {
    case "string":
      return stringOf(schema, known(field));
    case "integer":
      return integerOf(schema);
    case "number":
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(arbitraryOf(schema.items, field, known), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 3, 3),
      });
    case "object": {
      const properties: Record<string, Json> = schema.properties ?? {};
      const shape = Object.fromEntries(
        Object.entries(properties).map(([key, s]) => [key, arbitraryOf(s, key, known)] as const),
      );
      return fc.record(shape, { requiredKeys: schema.required ?? [] });
    }
    default:
      return fc.constant("x");
  }
}

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
const encode = (value: string) => {
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

// A valid request for `op`, then one of the mutations.
export function requestCases(op: Operation, pools: Pools): fc.Arbitrary<RequestCase> {
  const known = (field: string) => pools(op.id, field);
  const pathArb = fc.record(
    Object.fromEntries(op.pathParams.map((p) => [p.name, arbitraryOf(p.schema, p.name, known).map(String)] as const)),
  );
  const queryArb = fc.tuple(
    ...op.queryParams.map((p) => {
      const value = arbitraryOf(p.schema, p.name, known);
      return (p.required ? value : fc.option(value, { nil: undefined })).map((v): [string, unknown] => [p.name, v]);
    }),
  );
  const bodyArb = op.body
    ? arbitraryOf(op.body, "", known).map((v) => v as Record<string, unknown>)
    : fc.constant(undefined);
  const valid = fc.record({ path: pathArb, query: queryArb, body: bodyArb });

  return fc.tuple(valid, mutationOf(op)).map(([input, mutate]) => {
    const base: RequestCase = {
      mutation: "valid",
      pathParams: Object.fromEntries(Object.entries(input.path).map(([k, v]) => [k, encode(v)])),
      query: queryText(input.query),
      body: input.body === undefined ? undefined : jsonText(input.body),
    };
    return mutate ? mutate(base, input) : base;
  });
}

type Input = { path: Record<string, string>; query: [string, unknown][]; body: Record<string, unknown> | undefined };
type Mutate = (base: RequestCase, input: Input) => RequestCase;

function mutationOf(op: Operation): fc.Arbitrary<Mutate | null> {
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
