import { MAX_IDEMPOTENCY_KEY_LENGTH } from "@credits/core";
import { rateLimitedProcedures, rateLimitPolicies } from "./rate-limit-headers.ts";

// The HTTP conventions a stranger's tooling expects, as the document states them: the
// Idempotency-Key request header, the RateLimit response headers, Location on a 201. The server
// side: apps/server/src/rest-adapter.ts and packages/api/src/rate-limit-headers.ts.

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI operation edited as JSON
type Json = any;

export const IDEMPOTENCY_FIELD = "idempotencyKey";

// An operation whose input has idempotencyKey also takes the header; the body field is then
// required only when the header is absent (the server refuses both given and different).
export function documentIdempotencyHeader(operation: Json): void {
  operation.parameters = [
    ...(operation.parameters ?? []),
    {
      name: "Idempotency-Key",
      in: "header",
      required: false,
      description:
        "The same key as the body's `idempotencyKey`, by its HTTP name: send either, or both with the same " +
        "value (different values are a 400 INVALID_INPUT). One key per logical operation: a retry with it " +
        "replays the first answer; the same key with another input is a 409 IDEMPOTENCY_CONFLICT.",
      schema: { type: "string", minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
      example: "0b7e2c4e-order-1042",
    },
  ];
  const body = operation.requestBody?.content?.["application/json"]?.schema;
  if (!body?.properties?.[IDEMPOTENCY_FIELD]) return;
  if (Array.isArray(body.required) && body.required.includes(IDEMPOTENCY_FIELD)) {
    body.required = body.required.filter((name: string) => name !== IDEMPOTENCY_FIELD);
    body.properties[IDEMPOTENCY_FIELD] = {
      ...body.properties[IDEMPOTENCY_FIELD],
      description: "Required unless the Idempotency-Key header carries it",
    };
  }
}

// RateLimit and RateLimit-Policy (rate-limit-headers.ts) on a rate-limited operation's success
// and 429 answers; required on a success when every call counts.
export function documentRateLimitHeaders(operation: Json, procedurePath: string, successStatus: string): void {
  const limited = rateLimitedProcedures[procedurePath];
  if (!limited) throw new Error(`${procedurePath} declares RATE_LIMITED but counts against no policy`);
  const name = rateLimitPolicies[limited.policy];
  const headers = (required: boolean) => ({
    "RateLimit-Policy": {
      description:
        `The policy this operation counts against (IETF draft-ietf-httpapi-ratelimit-headers): \`"${name}"\`, ` +
        "`q` requests per window of `w` seconds",
      required,
      schema: { type: "string" },
      example: `"${name}";q=10;w=60`,
    },
    RateLimit: {
      description: "What is left of it: `r` requests until the window resets in `t` seconds",
      required,
      schema: { type: "string" },
      example: `"${name}";r=9;t=42`,
    },
  });
  const success = operation.responses[successStatus];
  if (success) success.headers = { ...success.headers, ...headers(limited.always) };
  const refused = operation.responses["429"];
  if (refused) refused.headers = { ...refused.headers, ...headers(false) };
}

// A 201 says where the created resource is read (Location, under the API's prefix).
export function documentLocation(operation: Json, procedurePath: string, location: unknown): void {
  if (!location) throw new Error(`${procedurePath} answers 201 without a Location (restCreatedLocation)`);
  operation.responses["201"].headers = {
    ...operation.responses["201"].headers,
    Location: {
      description: "Where the created resource is read (a path on this server, e.g. /api/v1/payments/{id})",
      required: true,
      schema: { type: "string", format: "uri-reference" },
    },
  };
}
