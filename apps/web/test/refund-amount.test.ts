// The refund form's amount: typed in whole units of the payment's currency, turned into minor
// units with that currency's exponent; hostile or impossible input says what to type instead.
import { describe, expect, it } from "vitest";
import { refundAmount } from "../app/lib/refund-amount.ts";

const usd = { currency: "usd", refundableMinor: 500 };
const jpy = { currency: "jpy", refundableMinor: 5_000 };
const kwd = { currency: "kwd", refundableMinor: 1_250 };

describe("refundAmount", () => {
  it("converts with the currency's own exponent", () => {
    expect(refundAmount("2", usd)).toEqual({ minor: 200 });
    expect(refundAmount(" 2.5 ", usd)).toEqual({ minor: 250 });
    expect(refundAmount("1,000", jpy)).toEqual({ minor: 1_000 });
    expect(refundAmount("1.25", kwd)).toEqual({ minor: 1_250 });
    expect(refundAmount("5.00", usd)).toEqual({ minor: 500 });
  });

  it("refuses hostile and impossible amounts with a message", () => {
    const cases: [string, typeof usd, RegExp][] = [
      ["", usd, /Enter the amount to refund in USD/],
      ["1e9", usd, /digits and at most one decimal point, e\.g\. 12\.50/],
      ["-1", usd, /positive amount/],
      ["−1", usd, /positive amount/],
      ["0.001", jpy, /JPY has no decimals/],
      ["0.001", usd, /USD amounts have at most 2 decimals/],
      ["1.2345", kwd, /KWD amounts have at most 3 decimals/],
      ["0", usd, /more than zero/],
      ["0.00", usd, /more than zero/],
      ["5.01", usd, /At most \$5\.00 is left to refund/],
      ["9".repeat(40), usd, /digits and at most one decimal point/],
      ["Infinity", usd, /digits/],
      ["NaN", usd, /digits/],
      ["0x10", usd, /digits/],
      ["1.2.3", usd, /digits/],
      ["1\u0000", usd, /digits/],
      ["<script>", usd, /digits/],
    ];
    for (const [typed, payment, message] of cases) {
      const result = refundAmount(typed, payment);
      expect("error" in result && result.error, JSON.stringify(typed)).toMatch(message);
    }
  });
});
