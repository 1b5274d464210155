// The admin's pack form: read on the server (the form works without JavaScript) into the router's
// input, with a message per field a person can act on. Prices are typed as one per line, in whole
// units of their currency ("usd 4.99", "jpy 500", "kwd 1.250"): the core's table says how many
// decimals each currency has, so the minor units are exact.
import { PACKAGE_LIMITS } from "@credits/api/limits";
import { currencyExponent, currencyProblem, decimalToMinor, minorToDecimal } from "@credits/api/money";
import type { Messages } from "./errors.server.ts";
import { textField } from "./forms.ts";

export interface PackFields {
  name: string;
  credits: number;
  prices: { currency: string; unitAmount: number }[];
  creditExpiryDays: number | null;
  position: number;
  highlight: boolean;
}

// The text a pack's prices are edited as.
export const pricesText = (prices: PackFields["prices"]) =>
  prices.map((p) => `${p.currency} ${minorToDecimal(p.unitAmount, currencyExponent(p.currency))}`).join("\n");

function parsePrices(text: string): { prices: PackFields["prices"]; error?: string } {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  if (lines.length === 0) return { prices: [], error: "Give at least one price, e.g. “usd 4.99”." };
  const prices: PackFields["prices"] = [];
  for (const line of lines) {
    const [code = "", amount = "", ...rest] = line.split(/\s+/);
    const currency = code.toLowerCase();
    const problem = currencyProblem(currency);
    if (problem || rest.length > 0) return { prices, error: `“${line}”: write a currency code and an amount.` };
    const unitAmount = decimalToMinor(amount, currency);
    if (unitAmount === null) {
      const decimals = currencyExponent(currency);
      return { prices, error: `“${line}”: ${currency.toUpperCase()} amounts have ${decimals} decimals at most.` };
    }
    prices.push({ currency, unitAmount });
  }
  return { prices };
}

const wholeNumber = (text: string) => (/^\d{1,10}$/.test(text.trim()) ? Number(text.trim()) : null);

export function readPackForm(form: FormData): { fields: PackFields; values: Record<string, string>; errors: Messages } {
  const values = {
    name: textField(form, "name").trim(),
    credits: textField(form, "credits"),
    prices: textField(form, "prices"),
    creditExpiryDays: textField(form, "creditExpiryDays"),
    position: textField(form, "position"),
    highlight: form.get("highlight") === "on" ? "on" : "",
  };
  const errors: Messages = {};
  if (!values.name) errors.name = "Give the pack a name.";
  const credits = wholeNumber(values.credits);
  if (credits === null || credits < 1) errors.credits = "Enter a whole number of credits, at least 1.";
  const { prices, error } = parsePrices(values.prices);
  if (error) errors.prices = error;
  const expiry = values.creditExpiryDays.trim() === "" ? null : wholeNumber(values.creditExpiryDays);
  const { min, max } = PACKAGE_LIMITS.creditExpiryDays;
  if (values.creditExpiryDays.trim() !== "" && (expiry === null || expiry < min || expiry > max)) {
    errors.creditExpiryDays = `Leave empty for no expiry, or enter ${min} to ${max} days.`;
  }
  const position = values.position.trim() === "" ? 0 : wholeNumber(values.position);
  if (position === null || position > PACKAGE_LIMITS.position.max) {
    errors.position = `Enter 0 to ${PACKAGE_LIMITS.position.max}; lower shows first.`;
  }
  const fields = {
    name: values.name,
    credits: credits ?? 0,
    prices,
    creditExpiryDays: expiry,
    position: position ?? 0,
    highlight: values.highlight === "on",
  };
  return { fields, values, errors };
}
