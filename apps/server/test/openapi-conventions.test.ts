// The HTTP conventions as the OpenAPI document states them: Idempotency-Key wherever a body takes
// idempotencyKey, RateLimit headers on the rate-limited operations, Location on every 201.
import { openApiDocument } from "@credits/api";
import { describe, expect, it } from "vitest";

// biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by the checks
type Json = any;
const doc: Json = JSON.parse(JSON.stringify(openApiDocument("http://localhost:3000/api/v1")));
const METHODS = ["get", "put", "post", "delete", "patch"] as const;
const operations = (): [string, Json][] =>
  Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m): [string, Json] => [`${m.toUpperCase()} ${path}`, item[m]]),
  );

describe("the document's HTTP conventions", () => {
  it("takes Idempotency-Key as a header wherever the body takes idempotencyKey, never requiring both", () => {
    const withKey = operations().filter(
      ([, op]) => op.requestBody?.content?.["application/json"]?.schema?.properties?.idempotencyKey,
    );
    expect(withKey.map(([endpoint]) => endpoint)).toEqual(
      expect.arrayContaining(["POST /credits/spend", "POST /credits/grant", "POST /credits/holds", "POST /checkout"]),
    );
    for (const [endpoint, op] of withKey) {
      const header = op.parameters.find((p: Json) => p.in === "header" && p.name === "Idempotency-Key");
      expect(header, endpoint).toMatchObject({
        required: false,
        schema: { type: "string", minLength: 1, maxLength: 200 },
      });
      expect(op.requestBody.content["application/json"].schema.required ?? [], endpoint).not.toContain(
        "idempotencyKey",
      );
    }
    for (const [endpoint, op] of operations()) {
      if (withKey.some(([e]) => e === endpoint)) continue;
      const names = (op.parameters ?? []).map((p: Json) => p.name);
      expect(names, endpoint).not.toContain("Idempotency-Key");
    }
  });
});
