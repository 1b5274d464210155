// A stranger's generated client: types from the committed document (openapi-typescript, kept
// current: a fresh generation must equal them) and openapi-fetch, run against the real server:
// sign-up, an API key's spend, a hold and a 402.
import { randomUUID } from "node:crypto";
import { startTestServer } from "@credits/server/testing";
import createClient from "openapi-fetch";
import { describe, expect, it } from "vitest";
import type { paths } from "../../docs/openapi/v1.d.ts";
import { readCommitted, readCommittedTypes, typesOf } from "../src/openapi-compat.ts";

const server = await startTestServer();
const { services } = server;
const owner = await services.auth.createUser({
  email: `client-admin-${randomUUID()}@example.test`,
  password: "password123",
  role: "admin",
});
const { key } = await services.apiKeys.create({
  name: "generated client",
  scopes: ["credits:read", "credits:spend", "credits:grant"],
  ownerUserId: owner.id,
});

const api = createClient<paths>({ baseUrl: `${server.url}/api/v1` });
const withKey = { headers: { Authorization: `Bearer ${key}` } };

describe("a client generated from docs/openapi/v1.json", () => {
  it("has types that are current: openapi-typescript on the committed document gives the committed file", async () => {
    expect(await typesOf(readCommitted())).toBe(readCommittedTypes());
  });

  it("signs up, grants, spends with the key (a retry replays), holds, and gets a typed 402", async () => {
    const signUp = await api.POST("/auth/signup", {
      body: { email: `client-${randomUUID()}@example.test`, password: "correct horse battery" },
    });
    expect(signUp.response.status).toBe(201);
    const userId = signUp.data?.user.id ?? "";
    expect(signUp.response.headers.get("location")).toBe("/api/v1/me");

    const grant = await api.POST("/credits/grant", {
      ...withKey,
      body: { userId, amount: 10, idempotencyKey: randomUUID(), reason: "welcome" },
    });
    expect(grant.data).toMatchObject({ balance: 10 });

    const spendKey = randomUUID();
    const spend = () =>
      api.POST("/credits/spend", {
        headers: { ...withKey.headers, "Idempotency-Key": spendKey },
        body: { userId, amount: 3, reason: "a job" },
      });
    const spent = await spend();
    expect(spent.data?.balance).toBe(7);
    expect((await spend()).data).toEqual(spent.data);

    const hold = await api.POST("/credits/holds", {
      ...withKey,
      body: { userId, amount: 5, idempotencyKey: randomUUID(), ttlSeconds: 600 },
    });
    expect(hold.response.status).toBe(200);
    const holdId = hold.data?.holdId ?? "";
    const capture = await api.POST("/credits/holds/{holdId}/capture", {
      ...withKey,
      params: { path: { holdId } },
      body: { amount: 4 },
    });
    expect(capture.response.status).toBe(200);

    const broke = await api.POST("/credits/spend", {
      ...withKey,
      body: { userId, amount: 1_000, idempotencyKey: randomUUID() },
    });
    expect(broke.response.status).toBe(402);
    expect(broke.data).toBeUndefined();
    expect(broke.error?.error.code).toBe("INSUFFICIENT_CREDITS");

    const balance = await api.GET("/users/{userId}/balance", { ...withKey, params: { path: { userId } } });
    expect(balance.data?.balance).toBe(3);
  });
});
