import { MAX_API_KEY_CALLS_PER_DAY, MAX_API_KEY_CREDITS_PER_DAY } from "@credits/api/limits";
import { describe, expect, test } from "vitest";
import { parseLimitFields } from "../app/components/api-key-limits.tsx";

const parse = (fields: Record<string, string>) => {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  return parseLimitFields(form);
};

describe("the key form's daily limits are the API's", () => {
  test("each limit is accepted up to the API's bound for its kind", () => {
    const parsed = parse({
      grantCreditsPerDay: String(MAX_API_KEY_CREDITS_PER_DAY),
      spendCallsPerDay: String(MAX_API_KEY_CALLS_PER_DAY),
    });
    expect(parsed.error).toBeUndefined();
    expect(parsed.limits).toEqual({
      grantCreditsPerDay: MAX_API_KEY_CREDITS_PER_DAY,
      spendCallsPerDay: MAX_API_KEY_CALLS_PER_DAY,
    });
  });

  test("a count of calls above the API's bound is the form's error, not a failed call", () => {
    const parsed = parse({ grantCallsPerDay: String(MAX_API_KEY_CALLS_PER_DAY + 1) });
    expect(parsed.error).toMatch(/“Grants” must be a whole number from 1 to 100,000,000/);
    expect(parsed.limits).toEqual({});
  });
});
