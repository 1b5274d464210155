import type { Database } from "./client.ts";

// drizzle builds a query's SQL text anew on every call, walking the whole query tree (pnpm bench:
// over a quarter of the CPU of a history read went there). A prepared query is built once per
// database handle, with placeholders for its values; inside a transaction (a new handle each
// time) it is built per transaction, as before.
export function prepared<Q>(build: (db: Database) => Q): (db: Database) => Q {
  const built = new WeakMap<Database, Q>();
  return (db) => {
    let query = built.get(db);
    if (query === undefined) {
      query = build(db);
      built.set(db, query);
    }
    return query;
  };
}
