import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  assertChargeable,
  currencies,
  currencyExponent,
  currencyProblem,
  decimalToMinor,
  formatMoney,
  isCurrency,
  MAX_UNIT_AMOUNT,
  minorToDecimal,
  unitAmountProblem,
} from "../src/money.ts";

describe("currency table", () => {
  it("knows each currency's exponent: 0 for JPY and KRW, 2 for USD and EUR, 3 for KWD and BHD", () => {
    expect(["jpy", "krw", "clp", "vnd"].map(currencyExponent)).toEqual([0, 0, 0, 0]);
    expect(["usd", "eur", "gbp", "huf"].map(currencyExponent)).toEqual([2, 2, 2, 2]);
    expect(["kwd", "bhd", "jod", "omr", "tnd"].map(currencyExponent)).toEqual([3, 3, 3, 3, 3]);
    // Stripe's special cases: ISK counted in hundredths, MGA zero-decimal.
    expect(currencyExponent("isk")).toBe(2);
    expect(currencyExponent("mga")).toBe(0);
  });

  it("is sorted, lowercase, unique, and refuses what is not in it", () => {
    expect([...currencies]).toEqual([...new Set(currencies)].sort());
    expect(currencies.every((c) => /^[a-z]{3}$/.test(c))).toBe(true);
    expect(currencies.length).toBeGreaterThan(130);
    for (const bad of ["USD", "Usd", "xyz", "us", "usdd", "", "constructor", "__proto__", "u\u0000d", "xau"]) {
      expect(isCurrency(bad)).toBe(false);
      expect(currencyProblem(bad)).not.toBeNull();
    }
    expect(currencyProblem("USD")).toMatch(/lowercase/);
    expect(currencyProblem("xyz")).toMatch(/not a currency we can charge in/);
    expect(() => currencyExponent("xyz")).toThrow(/unknown currency/);
  });
});

describe("unit amounts", () => {
  it("are integers from 1 to Stripe's eight digits", () => {
    expect(unitAmountProblem("usd", 1)).toBeNull();
    expect(unitAmountProblem("usd", MAX_UNIT_AMOUNT)).toBeNull();
    for (const bad of [0, -1, MAX_UNIT_AMOUNT + 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(unitAmountProblem("usd", bad)).toMatch(/integer from 1 to 99999999/);
    }
  });

  it("in three-decimal currencies end in 0, in ISK are whole krónur (Stripe's rules)", () => {
    expect(unitAmountProblem("kwd", 1250)).toBeNull();
    expect(unitAmountProblem("kwd", 1255)).toMatch(/multiple of 10/);
    expect(unitAmountProblem("isk", 50_000)).toBeNull();
    expect(unitAmountProblem("isk", 50_050)).toMatch(/multiple of 100/);
    expect(() => assertChargeable("kwd", 1255)).toThrow(/multiple of 10/);
    expect(() => assertChargeable("USD", 500)).toThrow(/lowercase/);
    expect(() => assertChargeable("jpy", 500)).not.toThrow();
  });
});

describe("formatMoney", () => {
  // Intl puts a no-break space between a currency code and the amount.
  it("shows each currency with its own decimals, never dividing by 100 blindly", () => {
    expect(formatMoney(12_345, "usd")).toBe("$123.45");
    expect(formatMoney(500, "jpy")).toBe("¥500");
    expect(formatMoney(1_250, "kwd")).toBe("KWD\u00a01.250");
    expect(formatMoney(5, "bhd")).toBe("BHD\u00a00.005");
    expect(formatMoney(12_300, "isk")).toBe("ISK\u00a0123");
    expect(formatMoney(99_999_999, "krw")).toBe("₩99,999,999");
    expect(formatMoney(2_000, "eur")).toBe("€20.00");
    expect(formatMoney(-5, "usd")).toBe("-$0.05");
    expect(formatMoney(1_000, "eur", "de")).toBe("10,00\u00a0€");
  });

  it("formats exactly: the digits shown are the integer's digits, for any amount", () => {
    // ISK shows whole krónur (its amounts are multiples of 100): its minor digits are not shown.
    const shownInFull = currencies.filter((c) => c !== "isk");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(...shownInFull), (n, c) => {
        const shown = formatMoney(n, c).replace(/\D/g, "");
        const exact = minorToDecimal(n, currencyExponent(c)).replace(/\D/g, "");
        expect(shown).toBe(exact);
      }),
    );
  });

  it("shows a currency outside the table (an old payment's) by its code", () => {
    expect(formatMoney(100, "xyz")).toBe("XYZ\u00a01.00");
  });
});

describe("decimalToMinor", () => {
  it("reads an amount in the currency's own decimals, and refuses anything else", () => {
    expect(decimalToMinor("4.99", "usd")).toBe(499);
    expect(decimalToMinor("5", "usd")).toBe(500);
    expect(decimalToMinor(" 500 ", "jpy")).toBe(500);
    expect(decimalToMinor("1.25", "kwd")).toBe(1_250);
    expect(decimalToMinor("1.255", "kwd")).toBe(1_255);
    for (const [text, currency] of [
      ["4.999", "usd"],
      ["500.5", "jpy"],
      ["-5", "usd"],
      ["1e3", "usd"],
      ["", "usd"],
      ["4,99", "usd"],
      ["5", "xyz"],
      ["9".repeat(16), "usd"],
    ]) {
      expect(decimalToMinor(text as string, currency as string)).toBeNull();
    }
  });

  it("round-trips with minorToDecimal", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), fc.constantFrom(...currencies), (n, c) => {
        expect(decimalToMinor(minorToDecimal(n, currencyExponent(c)), c)).toBe(n);
      }),
    );
  });
});

describe("minorToDecimal", () => {
  it("places the point by the exponent", () => {
    expect(minorToDecimal(5, 2)).toBe("0.05");
    expect(minorToDecimal(5, 3)).toBe("0.005");
    expect(minorToDecimal(500, 0)).toBe("500");
    expect(minorToDecimal(-1_234, 2)).toBe("-12.34");
  });
});
