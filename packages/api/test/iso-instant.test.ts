// isoInstant must be toISOString's text for every instant (the hot reads' answers, byte for byte).
import { describe, expect, it } from "vitest";
import { isoInstant } from "../src/iso-instant.ts";

describe("isoInstant", () => {
  it("is toISOString for random instants across and beyond years 0000-9999", () => {
    let differ = 0;
    for (let i = 0; i < 300_000; i += 1) {
      const date = new Date(Math.floor((Math.random() * 2 - 1) * 3e14));
      if (isoInstant(date) !== date.toISOString()) differ += 1;
    }
    expect(differ).toBe(0);
  });

  it.each([
    -62_167_219_200_000, // 0000-01-01
    -62_167_219_200_001, // a year before: toISOString's own six-digit year
    253_402_300_799_999, // 9999-12-31T23:59:59.999
    253_402_300_800_000, // 10000: toISOString's +010000
    0,
    -1,
    951_782_400_000, // 2000-02-29
    4_107_542_400_000, // 2100-03-01 (2100 is not a leap year)
    Date.UTC(2026, 11, 31, 23, 59, 59, 999),
    Date.UTC(2024, 1, 29, 0, 0, 0, 1),
  ])("is toISOString at %d", (ms) => {
    expect(isoInstant(new Date(ms))).toBe(new Date(ms).toISOString());
  });

  it("throws as toISOString does for an invalid date", () => {
    expect(() => isoInstant(new Date(Number.NaN))).toThrow(RangeError);
  });
});
