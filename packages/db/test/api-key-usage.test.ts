import { randomUUID } from "node:crypto";
import { countUse, LimitExceededError, NO_LIMITS } from "@credits/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createApiKeyUsageStore } from "../src/api-key-store.ts";
import { apiKeys } from "../src/schema.ts";
import { testDb } from "./setup.ts";

// The per-key daily counters against a model: one call at a time, each use is let through exactly
// when the day's totals stay within both limits, a refused use changes nothing, and an uncounted
// use gives its credits and call back. Many at once never end above a limit.
const { db } = testDb;
const usage = createApiKeyUsageStore(db);
const day = new Date("2026-06-01T12:00:00Z");
const clock = { now: () => day };

async function newKey(): Promise<string> {
  const id = randomUUID();
  await db.insert(apiKeys).values({ id, name: "usage", prefix: "ck_test", keyHash: id, scopes: ["credits:spend"] });
  return id;
}

const step = fc.oneof(
  fc.record({ kind: fc.constant("use" as const), credits: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant("undo" as const) }),
);

describe("API key usage counters", () => {
  it("let a use through exactly when it fits both limits (model)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(step, { maxLength: 20 }),
        async (maxCredits, maxCalls, steps) => {
          const key = {
            id: await newKey(),
            limits: { ...NO_LIMITS, spendCreditsPerDay: maxCredits, spendCallsPerDay: maxCalls },
          };
          const model = { credits: 0, calls: 0, counted: [] as number[] };
          for (const s of steps) {
            if (s.kind === "undo") {
              const last = model.counted.pop();
              if (last === undefined) continue;
              await usage.uncount({ apiKeyId: key.id, day: "2026-06-01", operation: "spend", credits: last });
              model.credits -= last;
              model.calls -= 1;
              continue;
            }
            const fits = model.credits + s.credits <= maxCredits && model.calls + 1 <= maxCalls;
            const counted = await countUse(usage, clock, key, "spend", s.credits).then(
              () => true,
              (error: unknown) => {
                expect(error).toBeInstanceOf(LimitExceededError);
                return false;
              },
            );
            expect(counted).toBe(fits);
            if (counted) {
              model.credits += s.credits;
              model.calls += 1;
              model.counted.push(s.credits);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("never let concurrent uses end above a limit", async () => {
    const key = { id: await newKey(), limits: { ...NO_LIMITS, grantCreditsPerDay: 100 } };
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => countUse(usage, clock, key, "grant", 7)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(14);
  });

  it("count nothing for a key without a limit on the operation", async () => {
    const key = { id: await newKey(), limits: { ...NO_LIMITS, grantCallsPerDay: 1 } };
    expect(await countUse(usage, clock, key, "spend", 5)).toBeNull();
  });
});
