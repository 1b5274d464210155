// PostgreSQL only: migration 0042 is applied in one batch with 0043 (the same release:
// ledger_break_requests, foreign keys to users, SHARE ROW EXCLUSIVE on users) while the previous
// release still serves. A request that writes users and then payment_refunds (a refund failure
// posts to the ledger, then updates its refund row) must not deadlock with the batch: 0042 takes
// users, payment_refunds and the queue first, all or none, retrying short waits, so
// the request finishes and the batch applies after it. Taken one after another (the queue, then
// payment_refunds, then 0043's users), the batch held payment_refunds while waiting for users.
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/index.ts";
import { databaseBefore } from "./older-database.ts";
import { onPostgres } from "./setup.ts";

const drizzleFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));

describe.skipIf(!onPostgres)("migrations 0042 and 0043 in one batch while instances serve", () => {
  it("a request locking users then payment_refunds finishes, and the batch applies after it", async () => {
    const handle = await databaseBefore("0042_erase19_erasure_tasks");
    let proceed = () => {};
    const gate = new Promise<void>((resolve) => {
      proceed = resolve;
    });
    let usersLocked = () => {};
    const locked = new Promise<void>((resolve) => {
      usersLocked = resolve;
    });
    // The live request: users first (the ledger's balance update), payment_refunds next.
    const request = handle.db.transaction(async (tx) => {
      await tx.execute(sql`LOCK TABLE users IN ROW EXCLUSIVE MODE`);
      usersLocked();
      await gate;
      await tx.execute(sql`LOCK TABLE payment_refunds IN ROW EXCLUSIVE MODE`);
    });
    await locked;
    // biome-ignore lint/suspicious/noExplicitAny: drizzle's postgres-js migrator wants its own driver type
    const batch = migratePostgres(handle.db as any, { migrationsFolder: drizzleFolder });
    // Long enough for a batch taking its locks one after another to hold payment_refunds and wait
    // for users (0043), and for 0042's first statement to have tried and let go a few times.
    await new Promise((resolve) => setTimeout(resolve, 700));
    proceed();

    const [requestDone, batchDone] = await Promise.allSettled([request, batch]);

    expect(requestDone.status, String((requestDone as PromiseRejectedResult).reason)).toBe("fulfilled");
    expect(batchDone.status, String((batchDone as PromiseRejectedResult).reason)).toBe("fulfilled");
    const tables = rowsOf<{ name: string }>(
      await handle.db.execute(sql`SELECT to_regclass('provider_erasure_tasks')::text AS name
                                  UNION ALL SELECT to_regclass('ledger_break_requests')::text`),
    );
    expect(tables.map((row) => row.name)).toEqual(["provider_erasure_tasks", "ledger_break_requests"]);
  });
});
