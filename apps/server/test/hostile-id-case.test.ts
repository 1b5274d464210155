// A user id is a uuid, which PostgreSQL compares case-insensitively: the same user in upper case
// must meet every rule that compares ids in JavaScript (one's own ledger, one's own key, a
// retried spend's parameters), on every path. Over real HTTP.
import { randomUUID } from "node:crypto";
import { creditTransactions } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { startTestServer } from "./harness.ts";
import { client, db } from "./hostile-keys-helpers.ts";

const server = await startTestServer({ ADMIN_APPROVAL_THRESHOLD: "10000" });
const { send, person, createKey, grant, spend, balance } = client(server);

let alice: Awaited<ReturnType<typeof person>>;
beforeAll(async () => {
  alice = await person("admin");
});

describe("a user id in upper case is the same user", () => {
  it("an admin crediting themself in upper case still needs a second admin", async () => {
    const adjust = await send("POST", "/api/v1/admin/adjust", alice, {
      userId: alice.id.toUpperCase(),
      amount: 5,
      reason: "self, shouted",
      idempotencyKey: randomUUID(),
    });
    expect(adjust.status, JSON.stringify(adjust.body)).toBe(200);
    expect(adjust.body.status).toBe("pending");
    expect(await balance(alice.id)).toBe(0);
  });

  it("a key granting its own owner in upper case still needs a second admin", async () => {
    const { key } = await createKey(alice, ["credits:grant"]);
    const granted = await grant(key, alice.id.toUpperCase(), 5);
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
    expect(granted.body.status).toBe("pending");
    expect(await balance(alice.id)).toBe(0);
  });

  it("a spend retried with the id in another case is the same spend, applied once", async () => {
    const bob = await person("user");
    const { key: granting } = await createKey(await person("admin"), ["credits:grant"]);
    expect((await grant(granting, bob.id, 10)).status).toBe(200);
    const { key } = await createKey(alice, ["credits:spend"]);
    const idempotencyKey = randomUUID();
    const first = await spend(key, bob.id.toUpperCase(), 3, idempotencyKey);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    for (const userId of [bob.id, bob.id.toUpperCase()]) {
      const again = await spend(key, userId, 3, idempotencyKey);
      expect(again.status, JSON.stringify(again.body)).toBe(200);
      expect(again.body).toEqual(first.body);
    }
    expect(await balance(bob.id)).toBe(7);
    expect(await db.$count(creditTransactions, eq(creditTransactions.userId, bob.id))).toBe(2);
  });

  it("an admin acknowledging a break of their own ledger in upper case is refused", async () => {
    const reply = await send("POST", "/api/v1/admin/reconciliation/ledger-breaks", alice, {
      userId: alice.id.toUpperCase(),
      seq: 1,
      reason: "mine, shouted",
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(403);
  });
});
