import { randomUUID } from "node:crypto";
import type { CreditService } from "@credits/core";
import type { Database } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { users } from "../src/schema.ts";

export async function createUser(db: Database): Promise<string> {
  const [user] = await db
    .insert(users)
    .values({ email: `user-${randomUUID()}@example.test` })
    .returning({ id: users.id });
  if (!user) throw new Error("user not created");
  return user.id;
}

// A user whose starting balance arrives through the ledger, like any other credit.
export async function fundedUser(db: Database, credits: CreditService, balance: number): Promise<string> {
  const userId = await createUser(db);
  if (balance > 0)
    await credits.grant({
      scope: { kind: "user", id: "test" },
      userId,
      amount: balance,
      idempotencyKey: `fund-${userId}`,
    });
  return userId;
}

export async function expectInvariantHolds(db: Database): Promise<number> {
  const { usersChecked, violations } = await createLedgerStore(db).findInvariantViolations(10);
  if (violations.length > 0) throw new Error(`ledger invariant broken: ${JSON.stringify(violations)}`);
  return usersChecked;
}

// The idempotency scope of credit operations the tests make directly on the services.
export const TEST_SCOPE = { kind: "user", id: "test" } as const;
