import { describe, expect, it } from "vitest";
import { IdempotencyConflictError, RetryableStoreError } from "../src/errors.ts";
import { MAX_TRANSACTION_ATTEMPTS } from "../src/limits.ts";
import { withRetry } from "../src/retry.ts";

// A unit of work that fails with the given errors, one per call, then succeeds.
function failing(errors: Error[]) {
  let calls = 0;
  const run = async () => {
    const error = errors[calls++];
    if (error) throw error;
    return "done";
  };
  return { run, calls: () => calls };
}

const transient = () => new RetryableStoreError(Object.assign(new Error("deadlock detected"), { code: "40P01" }));

describe("withRetry", () => {
  it("returns the first result without retrying when the work succeeds", async () => {
    const work = failing([]);
    expect(await withRetry(work.run)).toBe("done");
    expect(work.calls()).toBe(1);
  });

  it("retries a retryable store error until the work succeeds", async () => {
    const work = failing([transient(), transient()]);
    expect(await withRetry(work.run)).toBe("done");
    expect(work.calls()).toBe(3);
  });

  it("succeeds on the last allowed attempt", async () => {
    const work = failing(Array.from({ length: MAX_TRANSACTION_ATTEMPTS - 1 }, transient));
    expect(await withRetry(work.run)).toBe("done");
    expect(work.calls()).toBe(MAX_TRANSACTION_ATTEMPTS);
  });

  it("gives up after the bound and throws the last retryable error", async () => {
    const errors = Array.from({ length: MAX_TRANSACTION_ATTEMPTS + 3 }, transient);
    const work = failing(errors);
    const failure = await withRetry(work.run).catch((error: unknown) => error);
    expect(failure).toBe(errors[MAX_TRANSACTION_ATTEMPTS - 1]);
    expect(work.calls()).toBe(MAX_TRANSACTION_ATTEMPTS);
  });

  it("honours an explicit bound", async () => {
    const work = failing(Array.from({ length: 10 }, transient));
    await expect(withRetry(work.run, 2)).rejects.toBeInstanceOf(RetryableStoreError);
    expect(work.calls()).toBe(2);
    const once = failing([transient()]);
    await expect(withRetry(once.run, 1)).rejects.toBeInstanceOf(RetryableStoreError);
    expect(once.calls()).toBe(1);
  });

  it("does not retry any other error", async () => {
    const sqlState = Object.assign(new Error("serialization failure, not translated"), { code: "40001" });
    for (const error of [new IdempotencyConflictError(), new Error("boom"), new TypeError("bad"), sqlState]) {
      const work = failing([error, transient()]);
      await expect(withRetry(work.run)).rejects.toBe(error);
      expect(work.calls()).toBe(1);
    }
  });

  it("stops retrying once a retry fails with another error", async () => {
    const other = new Error("constraint violated");
    const work = failing([transient(), other]);
    await expect(withRetry(work.run)).rejects.toBe(other);
    expect(work.calls()).toBe(2);
  });
});
