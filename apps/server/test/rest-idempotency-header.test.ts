// The Idempotency-Key request header through real HTTP: accepted wherever the body takes an
// idempotencyKey, with the field's semantics and bounds; both given and different is a 400. /trpc
// refuses it (a 400 naming the input field): a batch is many calls under one header.
import { randomUUID } from "node:crypto";
import { MAX_IDEMPOTENCY_KEY_LENGTH } from "@credits/core";
import { describe, expect, it } from "vitest";
import { balanceOf, call, fullKey, fund, ledgerRows, provisionAdminKeys, signUp } from "./rest-contract-helpers.ts";

provisionAdminKeys();

const spend = (userId: string, headers: Record<string, string>, body: Record<string, unknown> = {}) =>
  call("POST", "/api/v1/credits/spend", { key: fullKey, headers, body: { userId, amount: 10, ...body } });

describe("the Idempotency-Key header", () => {
  it("stands in for the body's idempotencyKey: a retry with it replays, once in the ledger", async () => {
    const user = await signUp();
    await fund(user.id, 50);
    const key = randomUUID();
    const first = await spend(user.id, { "Idempotency-Key": key });
    expect(first.status).toBe(200);
    const rows = await ledgerRows();
    const again = await spend(user.id, { "Idempotency-Key": key });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    // The same key in the body is the same operation.
    const inBody = await spend(user.id, {}, { idempotencyKey: key });
    expect(inBody.body).toEqual(first.body);
    expect(await ledgerRows()).toBe(rows);
    expect(await balanceOf(user.id)).toBe(40);
    // The same key with another input is the field's conflict.
    const other = await spend(user.id, { "Idempotency-Key": key }, { amount: 11 });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("IDEMPOTENCY_CONFLICT");
  });

  it("both given: the same value is fine, different values are a 400 that writes nothing", async () => {
    const user = await signUp();
    await fund(user.id, 50);
    const key = randomUUID();
    const same = await spend(user.id, { "Idempotency-Key": key }, { idempotencyKey: key });
    expect(same.status).toBe(200);
    const rows = await ledgerRows();
    const differ = await spend(user.id, { "Idempotency-Key": randomUUID() }, { idempotencyKey: randomUUID() });
    expect(differ.status).toBe(400);
    expect(differ.body.error.code).toBe("INVALID_INPUT");
    expect(differ.body.error.message).toMatch(/Idempotency-Key header and the idempotencyKey field differ/);
    expect(await ledgerRows()).toBe(rows);
  });

  it("refuses hostile values as the field does (too long, control characters, empty) and writes nothing", async () => {
    const user = await signUp();
    await fund(user.id, 50);
    const rows = await ledgerRows();
    for (const hostile of ["k".repeat(MAX_IDEMPOTENCY_KEY_LENGTH + 1), "a\tb", ""]) {
      const reply = await spend(user.id, { "Idempotency-Key": hostile });
      expect(reply.status, JSON.stringify(hostile)).toBe(400);
      expect(reply.body.error.code).toBe("INVALID_INPUT");
      expect(Object.keys(reply.body.error.fields ?? {}), JSON.stringify(reply.body)).toContain("idempotencyKey");
    }
    // What Node would change before the schema sees it (latin1 bytes, two headers joined, spaces):
    // refused, not read as another key than the client's.
    for (const altered of ["caf\u00e9", "a, b", "a b"]) {
      const reply = await spend(user.id, { "Idempotency-Key": altered });
      expect(reply.status, JSON.stringify(altered)).toBe(400);
      expect(reply.body.error.code).toBe("INVALID_INPUT");
      expect(reply.body.error.message).toMatch(/visible ASCII/);
    }
    const longest = await spend(user.id, { "Idempotency-Key": "k".repeat(MAX_IDEMPOTENCY_KEY_LENGTH) });
    expect(longest.status).toBe(200);
    expect(await ledgerRows()).toBe(rows + 1);
  });

  it("works on every operation that takes the field: a grant and a hold", async () => {
    const user = await signUp();
    const key = randomUUID();
    const grant = await call("POST", "/api/v1/credits/grant", {
      key: fullKey,
      headers: { "Idempotency-Key": key },
      body: { userId: user.id, amount: 30 },
    });
    expect(grant.status).toBe(200);
    const replay = await call("POST", "/api/v1/credits/grant", {
      key: fullKey,
      headers: { "Idempotency-Key": key },
      body: { userId: user.id, amount: 30 },
    });
    expect(replay.body).toEqual(grant.body);
    const hold = await call("POST", "/api/v1/credits/holds", {
      key: fullKey,
      headers: { "Idempotency-Key": randomUUID() },
      body: { userId: user.id, amount: 5 },
    });
    expect(hold.status).toBe(200);
    expect(await balanceOf(user.id)).toBe(25);
  });

  it("/trpc refuses it with a 400 naming the input's idempotencyKey, and writes nothing", async () => {
    const user = await signUp();
    await fund(user.id, 50);
    const rows = await ledgerRows();
    const refused = await call("POST", "/trpc/credits.spend", {
      key: fullKey,
      headers: { "Idempotency-Key": randomUUID() },
      body: { userId: user.id, amount: 10 },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/Idempotency-Key header.*idempotencyKey field/);
    expect(refused.body.error.data).toMatchObject({ appCode: "INVALID_INPUT", httpStatus: 400 });
    expect(await ledgerRows()).toBe(rows);
    expect(await balanceOf(user.id)).toBe(50);
    // The key in the input is how tRPC takes it.
    const taken = await call("POST", "/trpc/credits.spend", {
      key: fullKey,
      body: { userId: user.id, amount: 10, idempotencyKey: randomUUID() },
    });
    expect(taken.status, JSON.stringify(taken.body)).toBe(200);
  });
});
