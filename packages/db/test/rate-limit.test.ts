// The rate-limit store and the log-in throttle on a real database: keyed hashes only, refunds,
// the purge of ended windows, and how many rows a flood can leave.
import { createHmac, randomUUID } from "node:crypto";
import { addressBucket, type Clock, createAuthThrottle, RateLimitedError, UnauthenticatedError } from "@credits/core";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { createRateLimitStore } from "../src/rate-limit-store.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
let now = new Date("2026-03-01T00:00:00Z");
const clock: Clock = { now: () => now };
const advance = (ms: number) => {
  now = new Date(now.getTime() + ms);
};
const store = createRateLimitStore(db);
const keys = async () =>
  rowsOf<{ key: string; count: number }>(await db.execute(sql`SELECT key, count FROM rate_limits`));

beforeEach(async () => {
  await db.execute(sql`DELETE FROM rate_limits`);
});

describe("the rate-limit store", () => {
  it("stores HMAC-SHA256 of the key under the database's secret, the same from every store", async () => {
    const [row] = rowsOf<{ secret: string }>(await db.execute(sql`SELECT secret FROM rate_limit_secret`));
    expect(row?.secret).toMatch(/^[0-9a-f]{64}$/);
    const key = `login-failed:ada@example.com|192.0.2.1`;
    await store.hit(key, now, new Date(now.getTime() + 60_000));
    // A second store (another instance) lands on the same row.
    const second = await createRateLimitStore(db).hit(key, now, new Date(now.getTime() + 60_000));
    expect(second.count).toBe(2);
    const expected = createHmac("sha256", row?.secret ?? "")
      .update(key)
      .digest("hex");
    expect(await keys()).toEqual([{ key: expected, count: 2 }]);
  });

  it("a refund takes back one hit of the current window only, never below zero", async () => {
    const end = new Date(now.getTime() + 60_000);
    await store.hit("k", now, end);
    await store.hit("k", now, end);
    await store.refund("k", end);
    expect((await keys())[0]?.count).toBe(1);
    await store.refund("k", new Date(end.getTime() - 1));
    expect((await keys())[0]?.count).toBe(1);
    await store.refund("k", end);
    await store.refund("k", end);
    expect((await keys())[0]?.count).toBe(0);
  });

  it("purges ended windows, at most `limit` at a time, and keeps live ones", async () => {
    for (let i = 0; i < 7; i++) await store.hit(`old-${i}`, now, new Date(now.getTime() + 1_000));
    await store.hit("live", now, new Date(now.getTime() + 60_000));
    advance(1_000);
    expect(await store.purgeExpired(now, 5)).toBe(5);
    expect(await store.purgeExpired(now, 5)).toBe(2);
    expect(await store.purgeExpired(now, 5)).toBe(0);
    expect(await keys()).toHaveLength(1);
  });
});

describe("the log-in throttle", () => {
  const limits = { attemptsPerMinute: 4, failedPerAddress: 2, failedPerEmail: 3 };
  const throttle = createAuthThrottle({ store, clock, limits });
  const wrong = () => Promise.reject(new UnauthenticatedError("invalid email or password"));
  const right = () => Promise.resolve("session");

  it("refuses a refused address before touching any per-email row", async () => {
    const address = "203.0.113.7";
    for (let i = 0; i < 4; i++) await expect(throttle.logIn(`a${i}@example.com`, address, wrong)).rejects.toThrow();
    const rows = (await keys()).length;
    for (let i = 0; i < 50; i++) {
      await expect(throttle.logIn(`flood-${randomUUID()}@example.com`, address, right)).rejects.toBeInstanceOf(
        RateLimitedError,
      );
    }
    expect(await keys()).toHaveLength(rows);
  });

  it("counts failures per (email, address) and under a per-email ceiling; successes are handed back", async () => {
    const victim = `${randomUUID()}@example.com`;
    await expect(throttle.logIn(victim, "198.51.100.1", right)).resolves.toBe("session");
    await expect(throttle.logIn(victim, "198.51.100.1", wrong)).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(throttle.logIn(victim, "198.51.100.1", wrong)).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(throttle.logIn(victim, "198.51.100.1", right)).rejects.toBeInstanceOf(RateLimitedError);
    // Another address: its own pair budget, and the email has one failure to go before its ceiling.
    await expect(throttle.logIn(victim.toUpperCase(), "198.51.100.2", right)).resolves.toBe("session");
    await expect(throttle.logIn(victim, "198.51.100.2", wrong)).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(throttle.logIn(victim, "198.51.100.3", right)).rejects.toBeInstanceOf(RateLimitedError);
    advance(15 * 60_000);
    await expect(throttle.logIn(victim, "198.51.100.3", right)).resolves.toBe("session");
  });

  it("purges every ended window in batches, and no live one", async () => {
    for (let i = 0; i < 12; i++) await throttle.signUp(`192.0.2.${i}`);
    await throttle.logIn(`${randomUUID()}@example.com`, "192.0.2.200", wrong).catch(() => {});
    advance(60_000);
    // 12 one-minute sign-up windows and the log-in's one have ended; its two 15-minute ones have not.
    expect(await throttle.purgeExpired(5)).toBe(13);
    expect(await keys()).toHaveLength(2);
    expect(await throttle.purgeExpired(5)).toBe(0);
  });

  it("a failure that is not a wrong password (a busy hasher) is handed back", async () => {
    const email = `${randomUUID()}@example.com`;
    for (let i = 0; i < 3; i++) {
      await expect(
        throttle.logIn(email, "198.51.100.9", () => Promise.reject(new RateLimitedError(1))),
      ).rejects.toThrow();
    }
    await expect(throttle.logIn(email, "198.51.100.9", right)).resolves.toBe("session");
  });
});

describe("address buckets", () => {
  it("an IPv6 address counts by its /64; IPv4 and IPv4-mapped addresses by themselves", () => {
    expect(addressBucket("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(addressBucket("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(addressBucket("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(addressBucket("192.0.2.1")).toBe("192.0.2.1");
    expect(addressBucket("unknown")).toBe("unknown");
    const hextets = (n: number) => fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: n, maxLength: n });
    const address = (parts: number[]) => parts.map((part) => part.toString(16)).join(":");
    fc.assert(
      fc.property(hextets(4), hextets(4), hextets(4), hextets(4), (prefix, other, host1, host2) => {
        // Not IPv4-mapped (::ffff:0:0/96), which counts as its IPv4 address.
        fc.pre(prefix.some((part) => part !== 0) && other.some((part) => part !== 0));
        expect(addressBucket(address([...prefix, ...host1]))).toBe(addressBucket(address([...prefix, ...host2])));
        if (address(prefix) !== address(other)) {
          expect(addressBucket(address([...prefix, ...host1]))).not.toBe(addressBucket(address([...other, ...host1])));
        }
      }),
    );
  });
});
