import { formatMoney } from "./format.ts";

export interface ReceiptMoney {
  // What was paid: priceMinor less discountMinor (a promotion code) plus taxMinor.
  amountMinor: number;
  priceMinor: number;
  discountMinor: number;
  taxMinor: number;
  currency: string;
}

// The receipt's money lines: what was paid, after the price and what changed it when a promotion
// code or tax did (a 100%-off code shows the price taken off, not a bare "$0.00").
export function receiptMoneyRows(receipt: ReceiptMoney): [string, string][] {
  const money = (amountMinor: number) => formatMoney(amountMinor, receipt.currency);
  const rows: [string, string][] = [];
  if (receipt.discountMinor > 0 || receipt.taxMinor > 0) rows.push(["Price", money(receipt.priceMinor)]);
  if (receipt.discountMinor > 0) rows.push(["Promotion code", `−${money(receipt.discountMinor)}`]);
  if (receipt.taxMinor > 0) rows.push(["Tax", money(receipt.taxMinor)]);
  rows.push(["Amount paid", money(receipt.amountMinor)]);
  return rows;
}
