import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { expect, it } from "vitest";
import type { Database } from "../src/client.ts";
import { findInvariantViolations } from "../src/invariant-check.ts";
import { testDb } from "./setup.ts";

// The daily check's cost estimate grows with the tables though its work follows the users who
// posted: at 5 M ledger rows it passed jit_above_cost and compiling took four times the work
// (ADR 024). Whether PostgreSQL compiles shows only in EXPLAIN ANALYZE, so this checks what the
// check sends: JIT turned off in the daily statement's own transaction, before it; the full pass
// keeps it.
const dialect = new PgDialect();

// The database, recording the text of every statement executed through it or its transactions.
function recording(db: Database, statements: string[]): Database {
  return new Proxy(db, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (key === "execute") {
        return (query: SQL) => {
          statements.push(dialect.sqlToQuery(query).sql);
          return value.call(target, query);
        };
      }
      if (key === "transaction") {
        return (work: (tx: Database) => Promise<unknown>) =>
          value.call(target, (tx: Database) => work(recording(tx, statements)));
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

it("the daily check turns JIT off for its statement; the full pass does not", async () => {
  const daily: string[] = [];
  await findInvariantViolations(recording(testDb.db, daily), 10, { afterSeq: 0, upToSeq: 0 }, { flag: true });
  const noJit = daily.findIndex((text) => /^SET LOCAL jit = off$/.test(text.trim()));
  expect(noJit).toBeGreaterThanOrEqual(0);
  expect(daily.findIndex((text) => text.includes("WITH"))).toBeGreaterThan(noJit);

  const full: string[] = [];
  await findInvariantViolations(recording(testDb.db, full), 10);
  expect(full.some((text) => /jit/i.test(text))).toBe(false);
  expect(full).toHaveLength(1);
});
