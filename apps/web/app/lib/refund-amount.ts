// A partial refund's amount as the admin types it, in whole units of the payment's currency
// ("12.50" USD, "500" JPY, "1.250" KWD), to minor units with the currency's own exponent (the
// core's table, never through a float); or the message that says what to type instead.
import { currencyExponent, decimalToMinor, formatMoney } from "@credits/api/money";

interface Refundable {
  currency: string;
  refundableMinor: number;
}

// Minor units from what the admin typed, or the message that says what to type instead.
export function refundAmount(text: string, payment: Refundable): { minor: number } | { error: string } {
  const { currency } = payment;
  const code = currency.toUpperCase();
  const typed = text.trim().replace(/[,\s_]/g, "");
  if (!typed) return { error: `Enter the amount to refund in ${code}, or choose a full refund.` };
  if (/^[-−]/.test(typed)) return { error: "Enter a positive amount: a refund gives money back." };
  const minor = decimalToMinor(typed, currency);
  if (minor === null) {
    const exponent = currencyExponent(currency);
    if (/^\d+\.\d+$/.test(typed)) {
      return {
        error:
          exponent === 0
            ? `${code} has no decimals: enter a whole amount, e.g. 500.`
            : `${code} amounts have at most ${exponent} decimals.`,
      };
    }
    return {
      error: `Enter an amount in ${code} with digits and at most one decimal point, e.g. ${example(currency)}.`,
    };
  }
  if (minor === 0) return { error: "The amount must be more than zero." };
  if (minor > payment.refundableMinor) {
    return { error: `At most ${formatMoney(payment.refundableMinor, currency)} is left to refund.` };
  }
  return { minor };
}

const example = (currency: string) =>
  currencyExponent(currency) === 0 ? "500" : currencyExponent(currency) === 3 ? "1.250" : "12.50";
