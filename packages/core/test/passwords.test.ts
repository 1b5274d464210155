import { scryptSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hashPassword, SCRYPT_PARAMS, verifyPassword } from "../src/auth/passwords.ts";

describe("password hashing", () => {
  it("encodes its parameters and a fresh salt in the hash", async () => {
    const a = await hashPassword("correct horse battery staple");
    const b = await hashPassword("correct horse battery staple");
    const { N, r, p } = SCRYPT_PARAMS;
    expect(a).toMatch(new RegExp(`^scrypt\\$${N}\\$${r}\\$${p}\\$[A-Za-z0-9+/]{22}==\\$[A-Za-z0-9+/]{86}==$`));
    expect(a).not.toBe(b);
    expect(a).not.toContain("correct horse");
  });

  it("verifies the right password and refuses a wrong one", async () => {
    const hash = await hashPassword("s3cret-passw0rd");
    expect(await verifyPassword("s3cret-passw0rd", hash)).toBe(true);
    expect(await verifyPassword("s3cret-passw0rD", hash)).toBe(false);
    expect(await verifyPassword("", hash)).toBe(false);
  });

  it("treats Unicode-equivalent spellings of a password as the same password", async () => {
    // "é" as one code point and as "e" plus a combining accent.
    const hash = await hashPassword("caf\u00e9-au-lait");
    expect(await verifyPassword("cafe\u0301-au-lait", hash)).toBe(true);
  });

  it("verifies a hash made with other (still allowed) parameters", async () => {
    const hash = await hashPassword("rotating-params");
    const [, , , , salt] = hash.split("$");
    const key = scryptSync("rotating-params", Buffer.from(salt ?? "", "base64"), 32, { N: 1024, r: 4, p: 2 });
    const older = `scrypt$1024$4$2$${salt}$${key.toString("base64")}`;
    expect(await verifyPassword("rotating-params", older)).toBe(true);
    expect(await verifyPassword("rotating-param", older)).toBe(false);
  });

  it("returns false, never throws, for hashes it cannot read", async () => {
    const good = await hashPassword("whatever-it-is");
    const [, , , , salt, key] = good.split("$");
    const bad = [
      "",
      "plain",
      "bcrypt$2b$10$abc",
      `scrypt$16384$8$1$${salt}`,
      `scrypt$16383$8$1$${salt}$${key}`, // N not a power of two
      `scrypt$${2 ** 24}$8$1$${salt}$${key}`, // N beyond the allowed cost
      `scrypt$16384$0$1$${salt}$${key}`,
      `scrypt$16384$8$99$${salt}$${key}`,
      `scrypt$16384$8$1$$${key}`,
      `scrypt$16384$8$1$${salt}$`,
      `scrypt$abc$8$1$${salt}$${key}`,
    ];
    for (const encoded of bad) expect(await verifyPassword("whatever-it-is", encoded), encoded).toBe(false);
  });

  it("accepts exactly the password it hashed (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.string({ maxLength: 40 }),
        async (password, other) => {
          const hash = await hashPassword(password);
          expect(await verifyPassword(password, hash)).toBe(true);
          if (other.normalize("NFKC") !== password.normalize("NFKC")) {
            expect(await verifyPassword(other, hash)).toBe(false);
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});
