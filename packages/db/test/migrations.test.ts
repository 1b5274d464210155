import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { PackagePrice } from "@credits/core";
import { eq, sql } from "drizzle-orm";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { createCatalogStore } from "../src/catalog-store.ts";
import { createDatabase, type Database, rowsOf } from "../src/client.ts";
import { creditPackagePrices, creditPackages, users } from "../src/schema.ts";
import { defaultPackages, seedDefaults } from "../src/seed.ts";
import { withDatabase } from "../src/testing.ts";
import { createUser } from "./fixtures.ts";
import { onPostgres, testDb } from "./setup.ts";

const { db } = testDb;
const journal = JSON.parse(readFileSync(new URL("../../../drizzle/meta/_journal.json", import.meta.url), "utf8")) as {
  entries: { tag: string }[];
};
const MIGRATIONS = journal.entries.length;

// What a migrated database holds, in a form two databases can be compared by.
async function schemaOf(target: Database) {
  const list = async (query: ReturnType<typeof sql>) =>
    rowsOf<{ name: string }>(await target.execute(query)).map((r) => r.name);
  return {
    tables: await list(
      sql`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    ),
    types: await list(
      sql`SELECT t.typname AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = 'public' AND t.typtype = 'e' ORDER BY 1`,
    ),
    triggers: await list(sql`SELECT tgname AS name FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`),
    migrations: await list(sql`SELECT hash AS name FROM drizzle.__drizzle_migrations ORDER BY id`),
  };
}

describe("migrations", () => {
  it.skipIf(!onPostgres)("two instances migrating a fresh PostgreSQL database at once both succeed, once", async () => {
    if (!testDb.url) throw new Error("no database url");
    const name = `credits_migrate_${randomBytes(6).toString("hex")}`;
    const admin = postgres(testDb.url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const url = withDatabase(testDb.url, name);
    const first = createDatabase({ url, poolMax: 2 });
    const second = createDatabase({ url, poolMax: 2 });
    try {
      const before = rowsOf<{ n: number }>(
        await first.db.execute(
          sql`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`,
        ),
      );
      expect(before[0]?.n).toBe(0);

      const outcomes = await Promise.allSettled([first.migrate(), second.migrate()]);
      expect(outcomes.map((o) => (o.status === "rejected" ? String(o.reason) : o.status))).toEqual([
        "fulfilled",
        "fulfilled",
      ]);

      const fresh = await schemaOf(first.db);
      expect(fresh.migrations).toHaveLength(MIGRATIONS);
      expect(new Set(fresh.migrations).size).toBe(MIGRATIONS);
      expect(fresh.tables).toContain("credit_transactions");
      expect(fresh.triggers.filter((t) => t === "credit_transactions_append_only")).toHaveLength(1);
      // Exactly what a database migrated by one instance alone holds.
      expect(fresh).toEqual(await schemaOf(db));

      // And a third start on the now migrated database changes nothing.
      await Promise.all([first.migrate(), second.migrate()]);
      expect(await schemaOf(second.db)).toEqual(fresh);
    } finally {
      await first.close();
      await second.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  it(`running migrate again is a no-op (${testDb.driver})`, async () => {
    const before = await schemaOf(db);
    expect(before.migrations).toHaveLength(MIGRATIONS);
    const userId = await createUser(db);
    await testDb.migrate();
    await testDb.migrate();
    expect(await schemaOf(db)).toEqual(before);
    expect(await db.select({ id: users.id }).from(users).where(eq(users.id, userId))).toEqual([{ id: userId }]);
  });
});

describe("seedDefaults", () => {
  const store = createCatalogStore(db);
  const catalogue = async () =>
    (await store.listPackages({ onSaleOnly: false })).map((p) => ({
      slug: p.slug,
      name: p.name,
      credits: p.credits,
      prices: p.prices,
      archived: p.archivedAt !== null,
    }));
  // Nothing references the packs in this test database, so the catalogue can be emptied between cases.
  const emptyCatalogue = async () => {
    await db.delete(creditPackagePrices);
    await db.delete(creditPackages);
  };
  const insertPack = async (pack: { slug: string; name: string; credits: number }, price: PackagePrice) => {
    const [row] = await db.insert(creditPackages).values(pack).returning({ id: creditPackages.id });
    await db.insert(creditPackagePrices).values({ packageId: row?.id ?? "", ...price, sortOrder: 0 });
  };

  it("creates the three default packs with their prices on an empty catalogue, and none on a second run", async () => {
    await emptyCatalogue();
    expect(await catalogue()).toEqual([]);
    await seedDefaults(db);
    const seeded = await catalogue();
    expect(seeded).toEqual(defaultPackages.map((pack) => ({ ...pack, archived: false })));
    await seedDefaults(db);
    expect(await catalogue()).toEqual(seeded);
  });

  it("seeds once when several instances start at the same moment", async () => {
    await emptyCatalogue();
    await Promise.all(Array.from({ length: 5 }, () => seedDefaults(db)));
    const seeded = await catalogue();
    expect(seeded.map((p) => p.slug)).toEqual(defaultPackages.map((p) => p.slug));
    expect(seeded.every((p) => p.prices.length === 1)).toBe(true);
  });

  it("leaves a catalogue that already has packs alone, even if all of them are archived", async () => {
    await emptyCatalogue();
    const custom = { slug: "custom", name: "Custom", credits: 42 };
    await insertPack(custom, { currency: "eur", unitAmount: 999 });
    await seedDefaults(db);
    expect(await catalogue()).toEqual([{ ...custom, prices: [{ currency: "eur", unitAmount: 999 }], archived: false }]);

    await db.update(creditPackages).set({ archivedAt: new Date() }).where(eq(creditPackages.slug, "custom"));
    await seedDefaults(db);
    expect((await catalogue()).map(({ slug, archived }) => ({ slug, archived }))).toEqual([
      { slug: "custom", archived: true },
    ]);

    // A catalogue holding one of the default slugs (changed by an operator) is not touched either.
    await emptyCatalogue();
    await insertPack({ ...defaultPackages[0], credits: 150 }, { currency: "usd", unitAmount: 500 });
    await seedDefaults(db);
    expect((await catalogue()).map(({ slug, credits }) => ({ slug, credits }))).toEqual([
      { slug: "starter", credits: 150 },
    ]);
  });
});
