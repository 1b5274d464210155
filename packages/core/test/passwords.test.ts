import { randomBytes, scryptSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ARGON2_PARAMS, createPasswordHasher } from "../src/auth/passwords.ts";
import { RateLimitedError } from "../src/errors.ts";

const hasher = createPasswordHasher();

// A hash as the code before argon2id made them (and as stored rows still hold them).
function legacyScrypt(password: string, { N = 16_384, r = 8, p = 1 } = {}) {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize("NFKC"), salt, 64, { N, r, p, maxmem: 128 * N * r * p + 1024 * 1024 });
  return ["scrypt", N, r, p, salt.toString("base64"), key.toString("base64")].join("$");
}

describe("password hashing", () => {
  it("makes argon2id hashes at OWASP's parameters, with a fresh salt each time", async () => {
    expect(ARGON2_PARAMS).toEqual({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    const a = await hasher.hash("correct horse battery staple");
    const b = await hasher.hash("correct horse battery staple");
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain("correct horse");
    expect(hasher.needsRehash(a)).toBe(false);
  });

  it("verifies the right password and refuses a wrong one", async () => {
    const hash = await hasher.hash("s3cret-passw0rd");
    expect(await hasher.verify("s3cret-passw0rd", hash)).toBe(true);
    expect(await hasher.verify("s3cret-passw0rD", hash)).toBe(false);
    expect(await hasher.verify("", hash)).toBe(false);
  });

  it("treats Unicode-equivalent spellings of a password as the same password", async () => {
    // "é" as one code point and as "e" plus a combining accent.
    const hash = await hasher.hash("caf\u00e9-au-lait");
    expect(await hasher.verify("cafe\u0301-au-lait", hash)).toBe(true);
  });

  it("still verifies scrypt hashes, and asks for them to be rehashed", async () => {
    for (const params of [{}, { N: 1024, r: 4, p: 2 }]) {
      const older = legacyScrypt("rotating-params", params);
      expect(await hasher.verify("rotating-params", older)).toBe(true);
      expect(await hasher.verify("rotating-param", older)).toBe(false);
      expect(hasher.needsRehash(older)).toBe(true);
    }
  });

  it("asks for argon2id hashes with other parameters to be rehashed, and verifies them", async () => {
    const weaker = createPasswordHasher({ params: { memoryCost: 4_096, timeCost: 1, parallelism: 1 } });
    const hash = await weaker.hash("older-cost");
    expect(hash).toContain("m=4096,t=1,p=1");
    expect(await hasher.verify("older-cost", hash)).toBe(true);
    expect(hasher.needsRehash(hash)).toBe(true);
    expect(weaker.needsRehash(hash)).toBe(false);
  });

  it("returns false, never throws, for hashes it cannot read or whose cost is out of bounds", async () => {
    const good = await hasher.hash("whatever-it-is");
    const scrypt = legacyScrypt("whatever-it-is");
    const [, , , , salt, key] = scrypt.split("$");
    const [, , , , argonSalt, argonKey] = good.split("$");
    const bad = [
      "",
      "plain",
      "bcrypt$2b$10$abc",
      good.slice(0, -4),
      `$argon2id$v=19$m=4194304,t=2,p=1$${argonSalt}$${argonKey}`, // 4 GiB of memory
      `$argon2id$v=19$m=19456,t=999,p=1$${argonSalt}$${argonKey}`,
      `$argon2i$v=19$m=19456,t=2,p=1$${argonSalt}$${argonKey}`,
      `$argon2id$v=19$m=19456,t=2,p=1$${argonSalt}$${"A".repeat(43)}`,
      `scrypt$16384$8$1$${salt}`,
      `scrypt$16383$8$1$${salt}$${key}`, // N not a power of two
      `scrypt$${2 ** 24}$8$1$${salt}$${key}`, // N beyond the allowed cost
      `scrypt$16384$0$1$${salt}$${key}`,
      `scrypt$16384$8$99$${salt}$${key}`,
      `scrypt$16384$8$1$$${key}`,
      `scrypt$16384$8$1$${salt}$`,
      `scrypt$abc$8$1$${salt}$${key}`,
    ];
    for (const encoded of bad) expect(await hasher.verify("whatever-it-is", encoded), encoded).toBe(false);
  });

  it("accepts exactly the password it hashed (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.string({ maxLength: 40 }),
        async (password, other) => {
          const hash = await hasher.hash(password);
          expect(await hasher.verify(password, hash)).toBe(true);
          if (other.normalize("NFKC") !== password.normalize("NFKC")) {
            expect(await hasher.verify(other, hash)).toBe(false);
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe("the hashing queue", () => {
  it("runs at most `concurrency` hashes, queues `maxQueued`, and refuses the rest at once", async () => {
    const small = createPasswordHasher({ limits: { concurrency: 2, maxQueued: 3 } });
    const hash = await small.hash("queued-password");
    let peak = 0;
    const calls = Array.from({ length: 12 }, () => {
      const call = small.verify("queued-password", hash);
      peak = Math.max(peak, small.load().active);
      return call;
    });
    const results = await Promise.allSettled(calls);
    const passed = results.filter((result) => result.status === "fulfilled");
    const refused = results.filter((result) => result.status === "rejected");
    expect(passed).toHaveLength(5);
    expect(passed.every((result) => result.value === true)).toBe(true);
    expect(refused).toHaveLength(7);
    expect(refused.every((result) => result.reason instanceof RateLimitedError)).toBe(true);
    expect(peak).toBeLessThanOrEqual(2);
    expect(small.load()).toEqual({ active: 0, queued: 0 });
    // Once the line has drained, hashing works again.
    expect(await small.verify("queued-password", hash)).toBe(true);
  });
});
