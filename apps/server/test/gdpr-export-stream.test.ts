// The GDPR export of a user with a long history, through real HTTP: the whole document arrives,
// parses and counts every row, while the process's retained heap stays about one page's worth
// (issue 17: the export used to build the document, rows and text, in memory), read in pages of
// bounded statements. An error after the first piece leaves the client a failed transfer and JSON
// that does not parse.
import { randomUUID } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { recordingDatabase } from "@credits/db/testing";
import { parseEnv } from "@credits/env";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it, vi } from "vitest";
import { startServer } from "../src/main.ts";
import { testDb } from "./harness.ts";

// Every statement the server sends, to count the export's pages.
const statements: string[] = [];
const database = recordingDatabase(testDb, (query) => statements.push(query));
const server = await startServer(
  parseEnv({ NODE_ENV: "test", PORT: "0", HOST: "127.0.0.1", PUBLIC_URL: "http://localhost:3000" }),
  { database, log: () => {} },
);
afterAll(async () => {
  await server.close();
  await database.closeRecorder();
});
const { db } = testDb;
const ROWS = 60_000;
// One page of the export is about 0.25 MB of text; the whole document about 14 MB.
const RETAINED_BOUND = 8 * 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const retainedHeap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

async function signUp() {
  const email = `export-${randomUUID()}@example.test`;
  const response = await fetch(`${server.url}/api/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "correct horse battery" }),
  });
  expect(response.status).toBe(201);
  const { user } = (await response.json()) as { user: { id: string } };
  return { id: user.id, cookie: response.headers.getSetCookie()[0]?.split(";")[0] ?? "" };
}

// A grant through the service, then ROWS spends of one credit taken from it, set-based (the way
// scripts/bench/scale/load.ts grows the ledger): the balance chain and the grant's remainder hold.
async function longHistory(userId: string) {
  const opening = ROWS + 500;
  await server.services.credits.grant({
    scope: { kind: "user", id: "test" },
    userId,
    amount: opening,
    idempotencyKey: randomUUID(),
    reason: "opening",
  });
  await db.execute(sql`
    WITH entry AS (
      INSERT INTO credit_transactions AS t (user_id, amount, balance_after, kind, idempotency_key, reason)
      SELECT ${userId}::uuid, -1, ${opening} - g, 'spend', 'export-test:' || ${userId} || ':' || g,
             'a long job with a descriptive reason ' || g
        FROM generate_series(1, ${ROWS}) AS g ORDER BY g
      RETURNING t.id, t.amount)
    INSERT INTO ledger_allocations (entry_id, grant_id, amount)
    SELECT entry.id, cg.id, entry.amount FROM entry JOIN credit_grants cg ON cg.user_id = ${userId}::uuid`);
  await db.execute(sql`UPDATE credit_grants SET remaining = remaining - ${ROWS} WHERE user_id = ${userId}::uuid`);
  await db.execute(sql`UPDATE users SET credits_balance = credits_balance - ${ROWS} WHERE id = ${userId}::uuid`);
  return opening - ROWS;
}

const person = await signUp();
const balance = await longHistory(person.id);

// The body's pieces are kept as bytes (outside the JavaScript heap), so the heap measures the
// server's side: what the export holds while it writes.
async function download(cookie: string, sample: () => void = () => {}) {
  const pieces: Uint8Array[] = [];
  let response: Response | null = null;
  let failure: unknown = null;
  try {
    response = await fetch(`${server.url}/api/v1/gdpr/export`, { headers: { cookie } });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      pieces.push(read.value);
      if (pieces.length % 8 === 0) sample();
    }
  } catch (error) {
    failure = error;
  }
  return { response, bytes: Buffer.concat(pieces), failure };
}

describe("GDPR export of a long history", () => {
  it("streams a complete document in bounded memory", { timeout: 180_000 }, async () => {
    await download(person.cookie); // compiled and connected: the baseline is the steady state
    const baseline = retainedHeap();
    let peak = baseline;
    const sample = () => {
      peak = Math.max(peak, retainedHeap());
    };
    // Often while the server reads the first page (the old export built the whole document
    // then), then every few pieces and at the end.
    const timer = setInterval(sample, 10);
    statements.length = 0;
    const { response, bytes, failure } = await download(person.cookie, () => {
      clearInterval(timer);
      sample();
    }).finally(() => clearInterval(timer));
    sample();
    expect(failure).toBeNull();
    expect(response?.status).toBe(200);
    expect(response?.headers.get("content-type")).toMatch(/^application\/json/);
    expect(bytes.length).toBeGreaterThan(RETAINED_BOUND);
    const document = JSON.parse(bytes.toString("utf8"));
    expect(document.profile.id).toBe(person.id);
    expect(document.balance).toBe(balance);
    expect(document.ledger).toHaveLength(ROWS + 1);
    const seqs = document.ledger.map((row: { seq: number }) => row.seq);
    expect(seqs).toEqual([...seqs].sort((a: number, b: number) => a - b));
    expect(new Set(document.ledger.map((row: { id: string }) => row.id)).size).toBe(ROWS + 1);
    expect(document.ledger.at(-1).balanceAfter).toBe(balance);
    const ledger = (await db.execute(
      sql`SELECT count(*)::int AS n, sum(amount)::int AS total FROM credit_transactions WHERE user_id = ${person.id}::uuid`,
    )) as unknown;
    const [counted] = (Array.isArray(ledger) ? ledger : (ledger as { rows: unknown[] }).rows) as {
      n: number;
      total: number;
    }[];
    expect(counted).toEqual({ n: ROWS + 1, total: balance });
    expect(document.sessions.length).toBeGreaterThanOrEqual(1);
    const grown = peak - baseline;
    console.info(`export: ${bytes.length} bytes, retained heap grew by at most ${grown} bytes`);
    expect(grown).toBeLessThan(RETAINED_BOUND);
    // The ledger in pages of at most 1,000 rows, one statement each (the old export: one statement
    // for all of it; on PGlite its whole-document peak falls between the heap samples above).
    const ledgerReads = statements.filter((s) => /from "credit_transactions"/i.test(s));
    expect(ledgerReads.length).toBeGreaterThanOrEqual(Math.ceil((ROWS + 1) / 1_000));
  });

  it("an error after the first piece is a failed transfer, never a document that parses", async () => {
    const original = server.services.gdpr.exportDocument;
    const spy = vi.spyOn(server.services.gdpr, "exportDocument").mockImplementation(async (userId) => {
      const { exportedAt, chunks } = await original(userId);
      async function* failing() {
        let pieces = 0;
        for await (const piece of chunks) {
          if (++pieces === 10) throw new Error("the replica went away mid-export");
          yield piece;
        }
      }
      return { exportedAt, chunks: failing() };
    });
    try {
      const { response, bytes, failure } = await download(person.cookie);
      // The status went with the first piece; the connection is then cut without the chunked
      // body's end: the transfer fails, at the body's read or, when the cut overtakes the client
      // (its socket reset before it read what had arrived), at fetch itself.
      expect(failure).toBeInstanceOf(Error);
      if (response) expect(response.status).toBe(200);
      expect(() => JSON.parse(bytes.toString("utf8"))).toThrow();
    } finally {
      spy.mockRestore();
    }
    const again = await download(person.cookie);
    expect(again.failure).toBeNull();
    expect(JSON.parse(again.bytes.toString("utf8")).ledger).toHaveLength(ROWS + 1);
  });
});
