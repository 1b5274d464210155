// Inputs for the OpenAPI fuzz test (openapi-fuzz.test.ts): the operations of the published
// document, and requests for each: valid ones generated from its JSON Schemas, then mutated
// (openapi-fuzz-mutations.ts).
import fc from "fast-check";
import { encode, jsonText, mutationOf, queryText } from "./openapi-fuzz-mutations.ts";

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
    // Outside /api/v1 (own servers): the health checks and Stripe's webhook, tested on their own.
    if (item.servers) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      // The live balance answers a stream that lasts as long as the session (balance-events tests).
      if (op.responses["200"]?.content?.["text/event-stream"]) continue;
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
  if (schema.format === "date-time" && known.length === 0) return fc.date(DATE_RANGE).map((d) => d.toISOString());
  if (schema.format === "date" && known.length === 0) {
    return fc.date(DATE_RANGE).map((d) => d.toISOString().slice(0, 10));
  }
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
    case "integer": {
      // A pool of known values (a ledger row's seq) reaches a success a random integer cannot.
      const pool = known(field);
      return pool.length > 0 ? fc.constantFrom(...pool.map(Number)) : integerOf(schema);
    }
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
