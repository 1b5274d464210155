// Hostile clients against log-in and sign-up, through the real server behind a (pretend) proxy:
// forged X-Forwarded-For entries, an attacker failing on someone's email, raw emails in the
// rate-limit table, old password hashes, a flood of concurrent log-ins.
import { randomBytes, randomUUID, scryptSync } from "node:crypto";
import { rowsOf } from "@credits/db";
import { users } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { startTestServer, testDb } from "./harness.ts";

const { db } = testDb;
const PASSWORD = "correct horse battery";
// The one proxy in front of the server appends the address it saw: the last entry.
const behindProxy = await startTestServer({ TRUST_PROXY: "1" });
const strict = await startTestServer({
  TRUST_PROXY: "1",
  AUTH_RATE_LIMIT_PER_MINUTE: "5",
  AUTH_FAILED_LOGINS_PER_ADDRESS: "3",
  AUTH_FAILED_LOGINS_PER_EMAIL: "6",
});

const email = (tag: string) => `${tag}-${randomUUID()}@example.com`;
let nextAddress = 1;
// A fresh documentation-range address (RFC 5737) per call, so tests never share a bucket.
const address = () => {
  const n = nextAddress++;
  return `198.18.${Math.floor(n / 250)}.${(n % 250) + 1}`;
};

async function post(base: string, path: string, body: unknown, forwardedFor?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (forwardedFor) headers["x-forwarded-for"] = forwardedFor;
  const response = await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field
  const parsed: any = await response.json();
  return { status: response.status, headers: response.headers, body: parsed };
}
const logIn = (base: string, body: { email: string; password: string }, forwardedFor?: string) =>
  post(base, "/api/v1/auth/login", body, forwardedFor);

async function signUp(base: string, who = email("owner")) {
  const reply = await post(base, "/api/v1/auth/signup", { email: who, password: PASSWORD }, address());
  expect(reply.status).toBe(201);
  return { email: who, id: reply.body.user.id as string };
}

describe("the client address behind TRUST_PROXY=1", () => {
  it("is the entry the proxy wrote: a forged first entry per request gets no new budget", async () => {
    const victim = await signUp(strict.url);
    const real = address();
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      // The client writes its own first entry; the proxy appends the address it saw.
      const forged = `10.${attempt}.0.1, ${randomUUID().slice(0, 8)}, ${real}`;
      statuses.push((await logIn(strict.url, { email: victim.email, password: "wrong password" }, forged)).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });

  it("counts sign-ups per real address, whatever the forged entries", async () => {
    const real = address();
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 7; attempt++) {
      const reply = await post(
        strict.url,
        "/api/v1/auth/signup",
        { email: email("spray"), password: PASSWORD },
        `203.0.113.${attempt + 1}, ${real}`,
      );
      statuses.push(reply.status);
    }
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429]);
  });
});

describe("an attacker who knows an email", () => {
  it("cannot keep its owner out: the right password from an address without failures still logs in", async () => {
    const victim = await signUp(behindProxy.url);
    const attacker = address();
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 25; attempt++) {
      statuses.push(
        (await logIn(behindProxy.url, { email: victim.email, password: `guess ${attempt}` }, attacker)).status,
      );
    }
    // AUTH_FAILED_LOGINS_PER_ADDRESS (10 by default) failures, then refused.
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);
    expect(statuses.slice(10).every((status) => status === 429)).toBe(true);
    // Even the right password is refused from the attacker's address for now…
    expect((await logIn(behindProxy.url, { email: victim.email, password: PASSWORD }, attacker)).status).toBe(429);
    // …but the owner, elsewhere, gets in.
    const owner = await logIn(behindProxy.url, { email: victim.email.toUpperCase(), password: PASSWORD }, address());
    expect(owner.status).toBe(200);
    expect(owner.headers.getSetCookie()).toHaveLength(1);
  });

  it("a successful log-in does not count as a failure", async () => {
    const user = await signUp(strict.url);
    const from = address();
    for (let attempt = 0; attempt < 4; attempt++) {
      expect((await logIn(strict.url, { email: user.email, password: PASSWORD }, from)).status).toBe(200);
    }
  });

  it("reaches the per-email ceiling only from several addresses; then the owner waits too", async () => {
    const victim = await signUp(strict.url);
    for (const attacker of [address(), address()]) {
      for (let attempt = 0; attempt < 3; attempt++) {
        expect((await logIn(strict.url, { email: victim.email, password: "nope nope" }, attacker)).status).toBe(401);
      }
    }
    // AUTH_FAILED_LOGINS_PER_EMAIL=6 failures from all addresses: the documented trade-off.
    const owner = await logIn(strict.url, { email: victim.email, password: PASSWORD }, address());
    expect(owner.status).toBe(429);
    expect(Number(owner.headers.get("retry-after"))).toBeGreaterThan(60);
  });
});

describe("the rate-limit table", () => {
  it("holds keyed hashes only: no email, erased or not, and no address", async () => {
    const erased = await signUp(behindProxy.url, email("erased"));
    await behindProxy.services.gdpr.erase({ userId: erased.id, actorId: null, reason: "test: user asked" });
    const unknown = email("unknown");
    const from = "192.0.2.77";
    for (const who of [erased.email, unknown]) {
      expect((await logIn(behindProxy.url, { email: who, password: "wrong password" }, from)).status).toBe(401);
    }
    const rows = rowsOf<{ key: string }>(await db.execute(sql`SELECT key FROM rate_limits`));
    expect(rows.length).toBeGreaterThan(0);
    for (const { key } of rows) expect(key).toMatch(/^[0-9a-f]{64}$/);
    const dump = JSON.stringify(rowsOf(await db.execute(sql`SELECT * FROM rate_limits`)));
    for (const needle of [erased.email, erased.email.split("@")[0] ?? "", unknown, from, "192.0.2"]) {
      expect(dump).not.toContain(needle);
    }
  });

  it("a refused address writes nothing per email: a flood of distinct emails adds one row", async () => {
    const flooder = address();
    for (let attempt = 0; attempt < 5; attempt++) {
      await logIn(strict.url, { email: email("flood"), password: "wrong password" }, flooder);
    }
    // Rows made since the flood began (the purge may remove older, ended windows meanwhile).
    const floodStart = new Date();
    const newRows = async () =>
      rowsOf<{ key: string }>(
        await db.execute(
          sql`SELECT key FROM rate_limits WHERE window_start >= ${floodStart.toISOString()}::timestamptz`,
        ),
      );
    for (let attempt = 0; attempt < 20; attempt++) {
      const reply = await logIn(strict.url, { email: email("flood"), password: "wrong password" }, flooder);
      expect(reply.status).toBe(429);
    }
    expect(await newRows()).toEqual([]);
  });
});

describe("password hashes", () => {
  it("an old scrypt hash still logs in, and is replaced by argon2id on that log-in", async () => {
    const user = await signUp(behindProxy.url);
    const salt = randomBytes(16);
    const key = scryptSync(PASSWORD, salt, 64, { N: 16_384, r: 8, p: 1 });
    const legacy = ["scrypt", 16_384, 8, 1, salt.toString("base64"), key.toString("base64")].join("$");
    await db.update(users).set({ passwordHash: legacy }).where(eq(users.id, user.id));

    expect((await logIn(behindProxy.url, { email: user.email, password: "wrong password" }, address())).status).toBe(
      401,
    );
    const [untouched] = await db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, user.id));
    expect(untouched?.hash).toBe(legacy);

    expect((await logIn(behindProxy.url, { email: user.email, password: PASSWORD }, address())).status).toBe(200);
    const [upgraded] = await db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, user.id));
    expect(upgraded?.hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect((await logIn(behindProxy.url, { email: user.email, password: PASSWORD }, address())).status).toBe(200);
    expect((await logIn(behindProxy.url, { email: user.email, password: "wrong password" }, address())).status).toBe(
      401,
    );
  });

  it("a burst of log-ins beyond the hashing queue is answered 429 at once, never 5xx", async () => {
    const narrow = await startTestServer({
      TRUST_PROXY: "1",
      PASSWORD_HASH_CONCURRENCY: "1",
      PASSWORD_HASH_QUEUE: "2",
    });
    const user = await signUp(narrow.url);
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        logIn(narrow.url, { email: i % 2 ? user.email : email("nobody"), password: "wrong password" }, address()),
      ),
    );
    const statuses = replies.map((reply) => reply.status);
    expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect(statuses.filter((status) => status === 401).length).toBeGreaterThanOrEqual(3);
    const busy = replies.find((reply) => reply.status === 429);
    expect(busy?.headers.get("retry-after")).toBe("1");
    expect(busy?.body).toEqual({ error: { code: "RATE_LIMITED", message: "too many attempts, try again later" } });
    // A refused attempt is not a failure: the owner is not a step closer to the limit.
    expect((await logIn(narrow.url, { email: user.email, password: PASSWORD }, address())).status).toBe(200);
  });
});
