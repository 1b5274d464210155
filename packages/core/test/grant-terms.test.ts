// The one check of grant terms: what it accepts is exactly a category from the core's list, an
// integer priority in GRANT_PRIORITY and an instant in the future within MAX_GRANT_EXPIRY_DAYS.
import {
  assertNotExpired,
  GRANT_PRIORITY,
  grantCategories,
  InvalidInputError,
  InvalidStateError,
  MAX_GRANT_EXPIRY_DAYS,
  parseGrantTerms,
  resolveGrantTerms,
  sameOptionalTerms,
} from "@credits/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const now = new Date("2026-12-04T06:00:00.000Z");
const DAY_MS = 86_400_000;
const refused = (input: Record<string, unknown>) => () => parseGrantTerms(input, now);

describe("parseGrantTerms", () => {
  it("accepts every category, every priority in range and a future instant", () => {
    for (const category of grantCategories) expect(parseGrantTerms({ category }, now)).toEqual({ category });
    fc.assert(
      fc.property(fc.integer({ min: GRANT_PRIORITY.min, max: GRANT_PRIORITY.max }), (priority) => {
        expect(parseGrantTerms({ priority }, now)).toEqual({ priority });
      }),
    );
    expect(parseGrantTerms({ expiresAt: "2026-12-18T06:00:00+02:00" }, now)).toEqual({
      expiresAt: new Date("2026-12-18T04:00:00.000Z"),
    });
    expect(parseGrantTerms({}, now)).toEqual({});
    expect(parseGrantTerms({ expiresAt: null }, now)).toEqual({});
  });

  it("refuses hostile values with INVALID_INPUT", () => {
    const hostile: Record<string, unknown>[] = [
      { category: "gold" },
      { category: "PAID" },
      { category: "paid\u0000" },
      { category: 1 },
      { category: null },
      { priority: -1 },
      { priority: GRANT_PRIORITY.max + 1 },
      { priority: 1.5 },
      { priority: Number.NaN },
      { priority: Number.POSITIVE_INFINITY },
      { priority: "10" },
      { priority: 2 ** 53 },
      { expiresAt: "tomorrow" },
      { expiresAt: "2027-01-01" },
      { expiresAt: "2027-01-01T00:00:00" },
      { expiresAt: "2027-02-30T00:00:00Z" },
      { expiresAt: "2027-01-01T00:00:00Z\n" },
      { expiresAt: "2027-01-01T24:00:00Z" },
      { expiresAt: "2027-13-01T00:00:00Z" },
      { expiresAt: "2025-01-01T00:00:00Z" },
      { expiresAt: now.toISOString() },
      { expiresAt: "+275760-09-13T00:00:00.000Z" },
      { expiresAt: new Date(now.getTime() + (MAX_GRANT_EXPIRY_DAYS + 1) * DAY_MS).toISOString() },
      { expiresAt: new Date(Number.NaN) },
      { expiresAt: 1_900_000_000_000 },
      { expiresAt: {} },
    ];
    for (const input of hostile) expect(refused(input), JSON.stringify(input)).toThrow(InvalidInputError);
  });

  it("accepts an expiry 1 ms ahead and exactly at the limit", () => {
    const soon = new Date(now.getTime() + 1);
    expect(parseGrantTerms({ expiresAt: soon }, now)).toEqual({ expiresAt: soon });
    const far = new Date(now.getTime() + MAX_GRANT_EXPIRY_DAYS * DAY_MS);
    expect(parseGrantTerms({ expiresAt: far.toISOString() }, now)).toEqual({ expiresAt: far });
  });
});

describe("resolveGrantTerms and sameOptionalTerms", () => {
  it("defaults by kind, priority 50, no expiry", () => {
    expect(resolveGrantTerms("purchase", {})).toEqual({ category: "paid", priority: 50, expiresAt: null });
    expect(resolveGrantTerms("grant", {}).category).toBe("promotional");
    expect(resolveGrantTerms("admin_adjustment", {}).category).toBe("adjustment");
  });

  it("compares instants, not Date objects", () => {
    const a = resolveGrantTerms("grant", { expiresAt: new Date("2027-01-01T00:00:00Z") });
    const b = resolveGrantTerms("grant", { expiresAt: new Date("2027-01-01T02:00:00+02:00") });
    expect(sameOptionalTerms(a, b)).toBe(true);
    expect(sameOptionalTerms(a, { ...b, priority: 10 })).toBe(false);
    expect(sameOptionalTerms(a, { ...b, expiresAt: null })).toBe(false);
    expect(sameOptionalTerms(a, null)).toBe(false);
    expect(sameOptionalTerms(null, null)).toBe(true);
  });

  it("an approval past the expiry is refused, never a grant already expired", () => {
    const terms = resolveGrantTerms("grant", { expiresAt: now });
    expect(() => assertNotExpired(terms, now)).toThrow(InvalidStateError);
    expect(() => assertNotExpired(terms, new Date(now.getTime() - 1))).not.toThrow();
  });
});
