// The OpenAPI document as a contract: exact statuses and codes per operation, security schemes
// with scopes, tags, the routes outside /api/v1 and the outbound webhook events.
import { openApiDocument } from "@credits/api";
import { describe, expect, it } from "vitest";

const PUBLIC_URL = "http://localhost:3000";
// biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by the checks
type Json = any;
const doc: Json = JSON.parse(JSON.stringify(openApiDocument(`${PUBLIC_URL}/api/v1`)));
const METHODS = ["get", "put", "post", "delete", "patch"] as const;
const operation = (endpoint: string) => {
  const [method = "", path = ""] = endpoint.split(" ");
  return doc.paths?.[path]?.[method.toLowerCase()];
};

describe("the OpenAPI document", () => {
  it("lists exactly the statuses each operation can answer, with the codes each can carry", () => {
    const codes = (endpoint: string) =>
      Object.fromEntries(
        Object.entries(operation(endpoint).responses as Record<string, Json>).map(([status, r]) => [
          status,
          r.content?.["application/json"]?.schema?.allOf?.[1].properties.error.properties.code.enum ?? null,
        ]),
      );
    // Public: no 401 or 403 for want of a credential; a cross-site browser write is a 403 CSRF.
    expect(codes("POST /auth/signup")).toMatchObject({
      "400": ["INVALID_INPUT"],
      "403": ["CSRF"],
      "409": ["ALREADY_EXISTS"],
      "429": ["RATE_LIMITED"],
    });
    expect(Object.keys(codes("POST /auth/signup"))).not.toContain("401");
    expect(Object.keys(codes("GET /packages")).sort()).toEqual(["200", "500", "503"]);
    expect(codes("POST /credits/spend")).toMatchObject({
      "401": ["UNAUTHENTICATED"],
      "402": ["INSUFFICIENT_CREDITS"],
      "403": ["CSRF", "FORBIDDEN"],
      "404": ["NOT_FOUND"],
      "409": ["IDEMPOTENCY_CONFLICT"],
      "413": ["PAYLOAD_TOO_LARGE"],
      "429": ["LIMIT_EXCEEDED"],
    });
    expect(codes("POST /credits/holds/{holdId}/capture")).toMatchObject({
      "404": ["NOT_FOUND"],
      "409": ["INVALID_STATE"],
    });
    expect(Object.keys(codes("GET /me")).sort()).toEqual(["200", "401", "500", "503"]);
    for (const endpoint of ["POST /credits/spend", "POST /auth/login"]) {
      expect(operation(endpoint).responses["429"].headers["Retry-After"].required, endpoint).toBe(true);
    }
  });

  it("names the security schemes, the scope each operation needs, and describes every tag", () => {
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["apiKey", "session"]);
    expect(operation("POST /credits/spend").security).toEqual([{ apiKey: ["credits:spend"] }, { session: [] }]);
    expect(operation("GET /users/{userId}/credits").security).toEqual([
      { apiKey: ["credits:read"] },
      { session: ["admin"] },
    ]);
    expect(operation("POST /admin/adjust").security).toEqual([{ session: ["admin"] }]);
    const described = new Set(doc.tags.map((t: Json) => t.name));
    for (const item of Object.values(doc.paths as Record<string, Json>)) {
      for (const m of METHODS) for (const tag of item[m]?.tags ?? []) expect(described, tag).toContain(tag);
    }
  });

  it("documents Stripe's webhook receiver, the health checks and the outbound webhook events", () => {
    for (const path of ["/webhooks/stripe", "/healthz", "/readyz"]) {
      expect(doc.paths[path].servers, path).toEqual([{ url: PUBLIC_URL }]);
    }
    expect(Object.keys(doc.paths["/webhooks/stripe"].post.responses).sort()).toEqual([
      "200",
      "400",
      "413",
      "500",
      "503",
    ]);
    expect(Object.keys(doc.webhooks)).toEqual(expect.arrayContaining(["credits.purchased", "credits.low_balance"]));
    const purchased = doc.webhooks["credits.purchased"].post.requestBody.content["application/json"].schema;
    expect(purchased.properties.type).toEqual({ const: "credits.purchased" });
    expect(purchased.properties.data.required).toEqual(expect.arrayContaining(["userId", "credits", "balance"]));
  });
});
