// Request and response examples for every operation, from one place: each is derived from the
// operation's own schema (so it has every required field, within every bound), with the values of
// the named fields below, the ones a reader looks at. The contract test validates every example
// against its schema (apps/server/test/contract/responses.contract.test.ts), so they cannot rot.

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema walked as JSON
type Json = any;

const UUID = "6f1c1f9e-8a5e-4c2b-9d43-2d7f1f3a0b11";
const INSTANT = "2026-12-04T18:00:00.000Z";

// The value of a field by its name, wherever it appears (when its schema accepts it).
const NAMED: Record<string, unknown> = {
  email: "ada@example.com",
  password: "correct horse battery",
  name: "Ada",
  amount: 3,
  balance: 120,
  credits: 500,
  idempotencyKey: "job-42",
  reason: "render job 42",
  currency: "eur",
  ttlSeconds: 600,
  limit: 20,
  cursor: "",
  checkoutUrl: "https://checkout.stripe.com/c/pay/cs_test_a1",
  sessionId: "cs_test_a1",
  url: "https://example.com/webhooks/credits",
  receiptUrl: "https://pay.stripe.com/receipts/payment/acct_1",
};

const FORMATS: Record<string, string> = {
  uuid: UUID,
  "date-time": INSTANT,
  date: "2026-12-04",
  email: "ada@example.com",
  "uri-reference": "/api/v1/payments/6f1c1f9e-8a5e-4c2b-9d43-2d7f1f3a0b11",
};

const typesOf = (schema: Json): string[] =>
  Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];

function stringOf(schema: Json, name: string | undefined): string {
  const named = name ? NAMED[name] : undefined;
  const value = typeof named === "string" ? named : (FORMATS[schema.format] ?? name ?? "text");
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Number.POSITIVE_INFINITY;
  return value.length < min ? value.padEnd(min, "x") : value.slice(0, max);
}

function integerOf(schema: Json, name: string | undefined): number {
  const named = name ? NAMED[name] : undefined;
  const wanted = typeof named === "number" ? named : 1;
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -Infinity);
  const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : Infinity);
  return Math.min(Math.max(wanted, min), max);
}

// A value valid against `schema` ($refs resolved in `doc`).
export function exampleOf(doc: Json, schema: Json, name?: string): unknown {
  if (!schema || typeof schema !== "object") return null;
  if (schema.$ref) return exampleOf(doc, resolve(doc, schema.$ref), name);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((part: Json) => exampleOf(doc, part, name)));
  const choices = schema.anyOf ?? schema.oneOf;
  if (choices) return exampleOf(doc, choices.find((c: Json) => !typesOf(c).includes("null")) ?? choices[0], name);
  const types = typesOf(schema).filter((t) => t !== "null");
  const type = types[0] ?? (schema.properties ? "object" : "null");
  if (type === "object") {
    const entries = Object.entries<Json>(schema.properties ?? {}).map(([key, sub]) => [key, exampleOf(doc, sub, key)]);
    return Object.fromEntries(entries);
  }
  if (type === "array")
    return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => exampleOf(doc, schema.items, name));
  if (type === "string") return stringOf(schema, name);
  if (type === "integer" || type === "number") return integerOf(schema, name);
  if (type === "boolean") return true;
  return null;
}

function resolve(doc: Json, ref: string): Json {
  return ref
    .replace(/^#\//, "")
    .split("/")
    .reduce((node, part) => node?.[part.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
}

// Sets `example` on each operation's JSON request body and JSON responses that have none (the
// error responses carry theirs: openapi-errors.ts).
export function addExamples(doc: Json): void {
  for (const item of Object.values<Json>(doc.paths ?? {})) {
    for (const method of ["get", "put", "post", "patch", "delete"]) {
      const operation = item[method];
      if (!operation) continue;
      const body = operation.requestBody?.content?.["application/json"];
      if (body?.schema && body.example === undefined) body.example = exampleOf(doc, body.schema);
      for (const response of Object.values<Json>(operation.responses ?? {})) {
        const media = response.content?.["application/json"];
        if (media?.schema && media.example === undefined) {
          media.example = exampleOf(doc, media.schema);
        }
      }
    }
  }
}
