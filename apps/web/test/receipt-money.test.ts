// The receipt page's money lines: a promotion code or tax shows the price and what changed it
// before what was paid; a free purchase is not a bare "$0.00".
import { describe, expect, it } from "vitest";
import { receiptMoneyRows } from "../app/lib/receipt.ts";

const usd = { currency: "usd", priceMinor: 2_000 };

describe("receiptMoneyRows", () => {
  it("the price, the promotion code and what was paid, for a discounted and a free purchase", () => {
    expect(receiptMoneyRows({ ...usd, amountMinor: 1_500, discountMinor: 500, taxMinor: 0 })).toEqual([
      ["Price", "$20.00"],
      ["Promotion code", "−$5.00"],
      ["Amount paid", "$15.00"],
    ]);
    expect(receiptMoneyRows({ ...usd, amountMinor: 0, discountMinor: 2_000, taxMinor: 0 })).toEqual([
      ["Price", "$20.00"],
      ["Promotion code", "−$20.00"],
      ["Amount paid", "$0.00"],
    ]);
  });

  it("tax on top; the price alone when nothing changed it; the currency's own exponent", () => {
    expect(receiptMoneyRows({ ...usd, amountMinor: 2_180, discountMinor: 0, taxMinor: 180 })).toEqual([
      ["Price", "$20.00"],
      ["Tax", "$1.80"],
      ["Amount paid", "$21.80"],
    ]);
    expect(receiptMoneyRows({ ...usd, amountMinor: 2_000, discountMinor: 0, taxMinor: 0 })).toEqual([
      ["Amount paid", "$20.00"],
    ]);
    expect(
      receiptMoneyRows({ currency: "jpy", priceMinor: 500, amountMinor: 400, discountMinor: 100, taxMinor: 0 }),
    ).toEqual([
      ["Price", "¥500"],
      ["Promotion code", "−¥100"],
      ["Amount paid", "¥400"],
    ]);
  });
});
