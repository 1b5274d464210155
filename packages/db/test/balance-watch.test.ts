// The live balance without NOTIFY (ADR 020, review finding 10): a posting announces nothing, so no
// commit waits on the notification queue's database-wide lock and no full queue (a listener that
// stopped reading) can fail it; the servers read the newest ledger row of the users they stream to.

import { createCreditService } from "@credits/core";
import type { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { latestPostings } from "../src/balance-watch.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { createUser, fundedUser, TEST_SCOPE } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
const credits = createCreditService({ store: createLedgerStore(db) });

// LISTEN on the test database, as a server instance did before: PostgreSQL on a connection of its
// own, PGlite in process.
async function listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
  if (testDb.url) {
    const client = postgres(testDb.url, { max: 1, onnotice: () => {} });
    await client.listen(channel, onPayload);
    return () => client.end({ timeout: 5 });
  }
  return (testDb.db as unknown as { $client: PGlite }).$client.listen(channel, onPayload);
}

describe("postings", () => {
  it("send no notification: nothing at commit depends on a listener", async () => {
    const heard: string[] = [];
    const stop = await listen("balance_changed", (payload) => heard.push(payload));
    try {
      const userId = await fundedUser(db, credits, 50);
      await credits.spend({ scope: TEST_SCOPE, userId, amount: 20, idempotencyKey: `q-${userId}` });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(heard).toEqual([]);
    } finally {
      await stop();
    }
  });
});

describe("latestPostings", () => {
  it("reads each watched user's newest ledger row, nothing for a user without one, and ignores non-ids", async () => {
    const alice = await fundedUser(db, credits, 40);
    const spent = await credits.spend({ scope: TEST_SCOPE, userId: alice, amount: 15, idempotencyKey: `a-${alice}` });
    const bob = await fundedUser(db, credits, 7);
    const nobody = await createUser(db);
    const rows = await latestPostings(db, [alice, bob, nobody, "'; DROP TABLE users; --"]);
    expect(rows).toHaveLength(2);
    expect(rows.find((row) => row.userId === alice)).toMatchObject({ balance: 25, transactionId: spent.transactionId });
    expect(rows.find((row) => row.userId === bob)).toMatchObject({ balance: 7 });
    expect(await latestPostings(db, [])).toEqual([]);
  });

  it("answers for more users than one statement carries", async () => {
    const many = await Promise.all(Array.from({ length: 510 }, () => createUser(db)));
    const funded = await fundedUser(db, credits, 3);
    const rows = await latestPostings(db, [...many, funded]);
    expect(rows.map((row) => row.userId)).toEqual([funded]);
  });
});
