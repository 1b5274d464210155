import { RetryableStoreError, StoreUnavailableError } from "@credits/core";
import { describe, expect, it } from "vitest";
import { createAccountStore } from "../src/auth-stores.ts";
import { createDatabase } from "../src/client.ts";
import { isDatabaseUnavailable, storeError, translatingErrors } from "../src/errors.ts";

describe("isDatabaseUnavailable", () => {
  it("recognises a database that cannot be reached, under wrappers", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    expect(isDatabaseUnavailable(refused)).toBe(true);
    expect(isDatabaseUnavailable(new Error("query failed", { cause: refused }))).toBe(true);
    for (const code of ["57P01", "57P03", "08006", "53300", "CONNECTION_CLOSED", "CONNECT_TIMEOUT"]) {
      expect(isDatabaseUnavailable({ code }), code).toBe(true);
    }
  });

  it("leaves every other error alone", () => {
    for (const code of ["23505", "40001", "22003", "ENOENT", undefined]) {
      expect(isDatabaseUnavailable({ code }), String(code)).toBe(false);
    }
    expect(isDatabaseUnavailable(new Error("plain"))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
  });
});

describe("the errors a store throws", () => {
  it("are the core's: retryable for a conflict, unavailable for an unreachable database, else as is", () => {
    for (const code of ["40001", "40P01"]) expect(storeError({ code })).toBeInstanceOf(RetryableStoreError);
    for (const code of ["ECONNREFUSED", "57P01", "08006"])
      expect(storeError({ code })).toBeInstanceOf(StoreUnavailableError);
    const unique = { code: "23505", constraint: "users_email_unique" };
    expect(storeError(unique)).toBe(unique);
    const translated = storeError({ code: "57P01" });
    expect(storeError(translated)).toBe(translated);
  });

  it("come from every method of a translating store, sync or async, which otherwise answers as before", async () => {
    const store = translatingErrors({
      name: "kept",
      read: async (value: number) => value * 2,
      down: async () => Promise.reject({ code: "ECONNRESET" }),
      conflict: () => {
        throw { code: "40001" };
      },
    });
    expect(store.name).toBe("kept");
    await expect(store.read(21)).resolves.toBe(42);
    await expect(store.down()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(() => store.conflict()).toThrow(RetryableStoreError);
  });

  it("say unavailable when nothing listens where the database should be", async () => {
    const handle = createDatabase({ url: "postgres://postgres@127.0.0.1:1/nowhere", poolMax: 1 });
    try {
      await expect(createAccountStore(handle.db).findUserByEmail("a@example.com")).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    } finally {
      await handle.close();
    }
  });
});
