// Test kit: what a PGlite loaded from the migrated image holds, and how to bring an instance that
// test files have used back to it (testing-shared-pglite.ts lends one instance per worker).
// Apart from testing.ts: this file is SQL about one PGlite, that one is the lending.
import type { PGlite } from "@electric-sql/pglite";

// Taken from an instance just loaded from the image: everything a reset restores or checks.
export interface ImageState {
  // Every table of ours (schema-qualified, quoted), in one TRUNCATE.
  tables: string[];
  // The tables the image has rows in (drizzle's migrations, the rows migrations seed): each row as
  // PostgreSQL's record text (exact for every type) and the columns an INSERT may write.
  seeded: { table: string; columns: string[]; rows: string[] }[];
  sequences: { name: string; lastValue: string; isCalled: boolean }[];
  // The sizes the planner reads from pg_class, for our tables and indexes (TRUNCATE changes them).
  plannerSizes: { oid: number; relpages: number; reltuples: number; relallvisible: number; relallfrozen: number }[];
  fingerprint: Fingerprint;
}

// One digest per kind of state (catalog, settings, session, data), so that a difference says which.
export type Fingerprint = Record<string, string>;

// Our objects: every schema but PostgreSQL's own. Temporary schemas stay out (a file's temporary
// objects are in the "relations" part while they exist; DISCARD ALL drops them, not their schema).
const OURS = `nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%'`;
const OUR_SCHEMAS = `${OURS} AND nspname NOT LIKE 'pg\\_temp\\_%'`;
const OUR_RELATIONS = `c.relnamespace IN (SELECT oid FROM pg_namespace WHERE ${OURS})`;

// What a test could change and the next file would see, one query a kind. The planner's inputs
// are in it (pg_class sizes, pg_statistic, per-column statistics targets): a file that ran ANALYZE
// would otherwise change the plans the next file's EXPLAIN tests see.
const FINGERPRINT_PARTS: Record<string, string> = {
  schemas: `SELECT nspname, nspowner::regrole, nspacl FROM pg_namespace WHERE ${OUR_SCHEMAS}`,
  relations: `SELECT c.oid::regclass, relkind, relpersistence, relowner::regrole, relacl, reloptions,
      relrowsecurity, relforcerowsecurity, relreplident, relpages, reltuples, relallvisible, relallfrozen
    FROM pg_class c WHERE ${OUR_RELATIONS}`,
  columns: `SELECT attrelid::regclass, attnum, attname, atttypid::regtype, atttypmod, attnotnull,
      attidentity, attgenerated, attisdropped, attstattarget, attcollation, attoptions, attacl,
      pg_get_expr(d.adbin, d.adrelid)
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE ${OUR_RELATIONS} AND attnum > 0`,
  // COMMENT ON: obj_description() reads them, and neither their catalogs nor a reset's TRUNCATE
  // have an OID of their own to count (otherObjects).
  comments: `SELECT classoid::regclass, objoid, objsubid, description FROM pg_description WHERE objoid >= 16384
    UNION ALL SELECT classoid::regclass, objoid, 0, description FROM pg_shdescription`,
  indexes: `SELECT pg_get_indexdef(indexrelid), indisvalid, indisready, indislive, indisclustered
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE ${OUR_RELATIONS}`,
  constraints: `SELECT conrelid::regclass, contypid::regtype, conname, pg_get_constraintdef(oid),
      condeferrable, condeferred, convalidated, conenforced
    FROM pg_constraint WHERE connamespace IN (SELECT oid FROM pg_namespace WHERE ${OURS})`,
  // Internal ones too (a foreign key's): ALTER TABLE … DISABLE TRIGGER ALL disables them.
  triggers: `SELECT tgrelid::regclass, tgname, tgenabled, pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE ${OUR_RELATIONS}`,
  rules: `SELECT ev_class::regclass, rulename, ev_enabled, pg_get_ruledef(r.oid)
    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE ${OUR_RELATIONS}`,
  policies: `SELECT polrelid::regclass, polname, polcmd, polpermissive, polroles::text,
      pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) FROM pg_policy`,
  functions: `SELECT p.oid::regprocedure, prokind, prosrc, probin, proconfig, provolatile,
      prosecdef, proleakproof, proisstrict, proowner::regrole, proacl, prorettype::regtype
    FROM pg_proc p WHERE pronamespace IN (SELECT oid FROM pg_namespace WHERE ${OURS})`,
  types: `SELECT t.oid::regtype, typtype, typowner::regrole, typnotnull, typdefault, typacl,
      (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
    FROM pg_type t WHERE typnamespace IN (SELECT oid FROM pg_namespace WHERE ${OURS})`,
  sequenceOptions: `SELECT seqrelid::regclass, seqtypid::regtype, seqstart, seqincrement, seqmax,
      seqmin, seqcache, seqcycle FROM pg_sequence`,
  roles: `SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
      rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil,
      (SELECT string_agg(roleid::regrole::text, ',' ORDER BY roleid) FROM pg_auth_members m WHERE m.member = r.oid)
    FROM pg_roles r`,
  extensions: `SELECT extname, extversion, extnamespace::regnamespace, extconfig::text FROM pg_extension`,
  statistics: `SELECT starelid::regclass, staattnum, stainherit FROM pg_statistic s
    JOIN pg_class c ON c.oid = s.starelid WHERE ${OUR_RELATIONS}`,
  extendedStatistics: `SELECT stxrelid::regclass, stxname, stxkind::text,
      (SELECT count(*) FROM pg_statistic_ext_data d WHERE d.stxoid = x.oid) FROM pg_statistic_ext x`,
  // Any other object a test could create (operators, casts, collations, text search, foreign
  // servers, publications, event triggers, large objects…): initdb's have OIDs below 16384.
  otherObjects: `SELECT c.relname, (xpath('/row/n/text()', query_to_xml(
        format('SELECT count(*) AS n FROM pg_catalog.%I WHERE oid >= 16384', c.relname), false, true, '')))[1]::text
    FROM pg_class c WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r'
      AND c.relname NOT IN ('pg_class', 'pg_namespace', 'pg_type', 'pg_attrdef', 'pg_constraint',
        'pg_trigger', 'pg_rewrite', 'pg_proc', 'pg_index')
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'oid')`,
  // The session's own settings, ALTER SYSTEM, ALTER DATABASE / ROLE … SET. Only those not at their
  // default: an extension's library defines its settings (at their defaults) when first loaded.
  settings: `SELECT name, setting, source FROM pg_settings WHERE source <> 'default'
    UNION ALL SELECT name, setting, sourcefile FROM pg_file_settings
    UNION ALL SELECT setdatabase || '/' || setrole, setconfig::text, 'pg_db_role_setting' FROM pg_db_role_setting`,
  session: `SELECT 'user', session_user::text || '/' || current_user::text
    UNION ALL SELECT 'prepared', count(*)::text FROM pg_prepared_statements
    UNION ALL SELECT 'cursors', count(*)::text FROM pg_cursors
    UNION ALL SELECT 'listening', count(*)::text FROM pg_listening_channels()
    UNION ALL SELECT 'locks', count(*)::text FROM pg_locks WHERE locktype IN ('advisory', 'object')
    UNION ALL SELECT 'prepared_xacts', count(*)::text FROM pg_prepared_xacts`,
};

// The data and sequences, from the lists the image's state names: each table's row count, the
// seeded tables' rows, each sequence's position.
function dataQuery(image: Pick<ImageState, "tables" | "seeded" | "sequences">): string {
  const counts = image.tables.map((table) => `SELECT ${literal(table)}, count(*)::text FROM ${table}`);
  const rows = image.seeded.map(
    ({ table }) =>
      `SELECT ${literal(`rows:${table}`)}, md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM ${table} t`,
  );
  const sequences = image.sequences.map(
    ({ name }) => `SELECT ${literal(name)}, last_value::text || '/' || is_called FROM ${name}`,
  );
  return [...counts, ...rows, ...sequences].join("\nUNION ALL ");
}

function digestQuery(part: string): string {
  return `SELECT md5(coalesce(string_agg(row_text, E'\\n' ORDER BY row_text), '')) AS digest
    FROM (SELECT part::text AS row_text FROM (${part}) part) parts`;
}

export async function fingerprint(
  client: PGlite,
  image: Pick<ImageState, "tables" | "seeded" | "sequences">,
): Promise<Fingerprint> {
  const parts = Object.entries({ ...FINGERPRINT_PARTS, data: dataQuery(image) });
  const select = parts.map(([, query], i) => `(${digestQuery(query)}) AS p${i}`).join(",\n");
  const { rows } = await client.query<Record<string, string>>(`SELECT ${select}`);
  return Object.fromEntries(parts.map(([name], i) => [name, rows[0]?.[`p${i}`] ?? ""]));
}

// The kinds of state in which `now` differs from the image's.
export function differences(image: Fingerprint, now: Fingerprint): string[] {
  return Object.keys(image).filter((part) => image[part] !== now[part]);
}

// Read from an instance just loaded from the image, before any test file had it.
export async function captureImage(client: PGlite): Promise<ImageState> {
  const { rows: tableRows } = await client.query<{ name: string }>(`
    SELECT format('%I.%I', nspname, relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${OUR_SCHEMAS} AND relkind IN ('r', 'p') ORDER BY 1`);
  const tables = tableRows.map((row) => row.name);
  const seeded: ImageState["seeded"] = [];
  for (const table of tables) {
    const { rows } = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${table} t ORDER BY ctid`);
    if (rows.length === 0) continue;
    // Generated columns cannot be written; their values follow from the others.
    const { rows: columns } = await client.query<{ name: string }>(
      `SELECT quote_ident(attname) AS name FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
      [table],
    );
    seeded.push({ table, columns: columns.map((column) => column.name), rows: rows.map((row) => row.row) });
  }
  const { rows: sequenceRows } = await client.query<{ name: string }>(`
    SELECT format('%I.%I', nspname, relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${OUR_SCHEMAS} AND relkind = 'S' ORDER BY 1`);
  const sequences: ImageState["sequences"] = [];
  for (const { name } of sequenceRows) {
    const { rows } = await client.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text, is_called FROM ${name}`,
    );
    sequences.push({ name, lastValue: rows[0]?.last_value ?? "1", isCalled: rows[0]?.is_called ?? false });
  }
  const { rows: plannerSizes } = await client.query<ImageState["plannerSizes"][number]>(`
    SELECT c.oid, relpages, reltuples, relallvisible, relallfrozen FROM pg_class c WHERE ${OUR_RELATIONS}`);
  const lists = { tables, seeded, sequences };
  return { ...lists, plannerSizes, fingerprint: await fingerprint(client, lists) };
}

// Brings an instance back to the image's rows, sequences and session: what a new instance loaded
// from the image gives a test file. The catalog is not restored but checked (fingerprint): a file
// that changed it leaves an instance that is thrown away.
export async function resetToImage(client: PGlite, image: ImageState): Promise<void> {
  // A transaction the file left open (or aborted) would hold its locks and rows; DISCARD ALL
  // refuses to run inside one.
  if (client.isInTransaction()) await client.exec("ROLLBACK");
  // The session: settings, prepared statements, cursors, temporary tables, advisory locks, LISTEN,
  // the role (SET ROLE / SET SESSION AUTHORIZATION).
  await client.exec("DISCARD ALL");
  // One TRUNCATE for all (foreign keys between them need it). As a replica the session fires no
  // ordinary trigger: the ledger's tables refuse TRUNCATE (migrations 0001, 0007), and the seeded
  // rows go back as they were, not through the triggers that would derive or refuse them.
  const restore = image.seeded.map(({ table, columns, rows }) => ({
    rows,
    statement: `INSERT INTO ${table} (${columns.join(", ")}) OVERRIDING SYSTEM VALUE
      SELECT ${columns.map((column) => `(r).${column}`).join(", ")}
        FROM (SELECT row::${table} AS r FROM unnest($1::text[]) WITH ORDINALITY AS x(row, n) ORDER BY n) image`,
  }));
  const sequences = image.sequences.map(
    ({ name, lastValue, isCalled }) => `SELECT setval(${literal(name)}, ${lastValue}, ${isCalled})`,
  );
  await client.transaction(async (tx) => {
    await tx.exec("SET LOCAL session_replication_role = replica");
    await tx.exec(`TRUNCATE ${image.tables.join(", ")}`);
    for (const { statement, rows } of restore) await tx.query(statement, [rows]);
    for (const statement of sequences) await tx.exec(statement);
    // TRUNCATE leaves an index "never vacuumed" (0 pages, -1 tuples) where the image has what its
    // CREATE INDEX recorded (1 page, 0 tuples): the planner's estimates for partial indexes read
    // them. The numbers go back to the image's, as a new instance loaded from it would have them.
    const sizes = image.plannerSizes;
    await tx.query(
      `UPDATE pg_class c SET relpages = i.relpages, reltuples = i.reltuples, relallvisible = i.relallvisible,
              relallfrozen = i.relallfrozen
         FROM unnest($1::oid[], $2::int[], $3::real[], $4::int[], $5::int[]) AS i(oid, relpages, reltuples, relallvisible, relallfrozen)
        WHERE c.oid = i.oid
          AND (c.relpages, c.reltuples, c.relallvisible, c.relallfrozen)
              IS DISTINCT FROM (i.relpages, i.reltuples, i.relallvisible, i.relallfrozen)`,
      [
        sizes.map((size) => size.oid),
        sizes.map((size) => size.relpages),
        sizes.map((size) => size.reltuples),
        sizes.map((size) => size.relallvisible),
        sizes.map((size) => size.relallfrozen),
      ],
    );
  });
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
