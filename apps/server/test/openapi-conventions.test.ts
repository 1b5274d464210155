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

  it("documents RateLimit and RateLimit-Policy on every rate-limited operation's success and 429", () => {
    const codesOf = (op: Json) =>
      op.responses["429"]?.content["application/json"].schema.allOf[1].properties.error.properties.code.enum ?? [];
    // The live balance's 429 is a cap on open streams, not a rate: no policy to advertise.
    const limited = operations().filter(
      ([endpoint, op]) => codesOf(op).includes("RATE_LIMITED") && endpoint !== "GET /me/events",
    );
    expect(limited.map(([endpoint]) => endpoint).sort()).toEqual([
      "GET /gdpr/export",
      "GET /payments/{paymentId}",
      "GET /payments/{paymentId}/receipt",
      "POST /auth/login",
      "POST /auth/signup",
      "POST /checkout",
      "POST /checkout/confirm",
      "POST /gdpr/delete/confirmation",
      "POST /payments/{paymentId}/cancel",
    ]);
    const always = [
      "GET /gdpr/export",
      "POST /auth/login",
      "POST /auth/signup",
      "POST /checkout",
      "POST /gdpr/delete/confirmation",
    ];
    for (const [endpoint, op] of limited) {
      const success = op.responses[Object.keys(op.responses).find((s) => s.startsWith("2")) ?? ""];
      for (const name of ["RateLimit", "RateLimit-Policy"]) {
        expect(success.headers?.[name]?.required, `${endpoint} ${name}`).toBe(always.includes(endpoint));
        expect(op.responses["429"].headers[name], `${endpoint} 429 ${name}`).toMatchObject({
          schema: { type: "string" },
        });
      }
      expect(op.responses["429"].headers["Retry-After"].required, endpoint).toBe(true);
    }
    for (const [endpoint, op] of operations()) {
      if (limited.some(([e]) => e === endpoint)) continue;
      for (const response of Object.values<Json>(op.responses)) {
        expect(Object.keys(response.headers ?? {}), endpoint).not.toContain("RateLimit");
      }
    }
  });

  it("documents a required Location on every 201", () => {
    const created = operations().filter(([, op]) => op.responses["201"]);
    expect(created.map(([endpoint]) => endpoint).sort()).toEqual(["POST /auth/signup", "POST /checkout"]);
    for (const [endpoint, op] of created) {
      expect(op.responses["201"].headers?.Location, endpoint).toMatchObject({
        required: true,
        schema: { type: "string" },
      });
    }
  });

  it("documents the live balance (server-sent events) and this document itself", () => {
    const events = doc.paths["/me/events"].get;
    expect(Object.keys(events.responses["200"].content)).toEqual(["text/event-stream"]);
    expect(events.security).toEqual([{ session: [] }]);
    expect(Object.keys(events.responses).sort()).toEqual(["200", "401", "429", "500", "503"]);
    expect(events.responses["429"].headers["Retry-After"].required).toBe(true);
    expect(events.parameters.map((p: Json) => p.name)).toEqual(["Last-Event-ID"]);
    const self = doc.paths["/openapi.json"].get;
    expect(self.security).toEqual([]);
    expect(self.responses["200"].content["application/json"].schema.required).toEqual(["openapi", "info", "paths"]);
  });
});
