// Money: integer minor units with a lowercase ISO 4217 code. The one table of currencies we sell
// in and the one formatter of amounts (web pages, the local checkout page, stats, exports). Plain
// functions and constants, bundled for the browser too (through @credits/api/money).

// The highest unit amount a price may have: Stripe takes amounts of up to eight digits
// (99999999 is $999,999.99, ¥99,999,999 or KWD 99,999.999).
export const MAX_UNIT_AMOUNT = 99_999_999;

// How many decimal places an amount's minor unit has, per currency: ISO 4217's minor unit, for
// every currency Stripe presents charges in. An amount is `unitAmount / 10^exponent` units.
// Stripe's special cases, where its API differs from ISO 4217 (its API is what the amounts go to):
//   isk  ISO 0; Stripe counts in hundredths, whole krónur only (multiples of 100): exponent 2
//   mga  ISO 2 (iraimbilanja, never used); Stripe treats it as zero-decimal: exponent 0
//   bhd, jod, kwd, omr, tnd  three decimals; Stripe requires the last digit to be 0 (multiples of 10)
//   huf, twd  two decimals for charges (Stripe's whole-unit rule is for payouts only)
const ZERO_DECIMAL = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split(" ");
const THREE_DECIMAL = "bhd jod kwd omr tnd".split(" ");
const TWO_DECIMAL = (
  "aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bmd bnd bob brl bsd bwp byn bzd cad cdf " +
  "chf cny cop crc cve czk dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gtq gyd hkd hnl htg huf " +
  "idr ils inr isk jmd kes kgs khr kyd kzt lak lbp lkr lrd lsl mad mdl mkd mmk mnt mop mur mvr mwk " +
  "mxn myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln qar ron rsd rub sar sbd scr sek sgd " +
  "shp sle sos srd szl thb tjs top try ttd twd tzs uah usd uyu uzs wst xcd yer zar zmw"
).split(" ");

const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...ZERO_DECIMAL.map((c) => [c, 0] as const),
  ...TWO_DECIMAL.map((c) => [c, 2] as const),
  ...THREE_DECIMAL.map((c) => [c, 3] as const),
]);

// Amounts the provider refuses unless they are a multiple of this (see the special cases above).
const STEPS: ReadonlyMap<string, number> = new Map([["isk", 100], ...THREE_DECIMAL.map((c) => [c, 10] as const)]);

// Every currency a price may be in, sorted (for forms and documentation).
export const currencies: readonly string[] = [...EXPONENTS.keys()].sort();

// Own entries only: a Map never answers "constructor" or "__proto__".
export const isCurrency = (code: string): boolean => EXPONENTS.has(code);

export function currencyExponent(currency: string): number {
  const exponent = EXPONENTS.get(currency);
  if (exponent === undefined) throw new Error(`unknown currency ${JSON.stringify(currency)}`);
  return exponent;
}

// What is wrong with a currency code as a price's, or null. Codes are lowercase, as Stripe wants
// them and as they are stored: "USD" is refused rather than silently made a second spelling.
export function currencyProblem(currency: string): string | null {
  if (!/^[a-z]{3}$/.test(currency)) return "must be a lowercase ISO 4217 code such as usd";
  if (!isCurrency(currency)) return `${currency} is not a currency we can charge in`;
  return null;
}

// What is wrong with a unit amount in a currency, or null.
export function unitAmountProblem(currency: string, unitAmount: number): string | null {
  if (!Number.isSafeInteger(unitAmount) || unitAmount < 1 || unitAmount > MAX_UNIT_AMOUNT) {
    return `must be an integer from 1 to ${MAX_UNIT_AMOUNT} (minor units)`;
  }
  const step = STEPS.get(currency) ?? 1;
  if (unitAmount % step !== 0) return `in ${currency} must be a multiple of ${step} minor units`;
  return null;
}

// For payment providers: a charge the provider would refuse is a programming error by then (the
// catalogue checks prices when they are set), so it throws a plain Error.
export function assertChargeable(currency: string, amountMinor: number): void {
  const problem = currencyProblem(currency) ?? unitAmountProblem(currency, amountMinor);
  if (problem) throw new Error(`checkout amount of ${amountMinor} ${currency}: ${problem}`);
}

// "123.45" from 12345 at exponent 2: exact, never through a float.
export function minorToDecimal(amountMinor: number, exponent: number): `${number}` {
  const sign = amountMinor < 0 ? "-" : "";
  const digits = String(Math.abs(amountMinor)).padStart(exponent + 1, "0");
  const decimal = exponent === 0 ? sign + digits : `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
  return decimal as `${number}`;
}

// An amount in whole units as a number, for a chart's scale only (several currencies on one axis):
// never for arithmetic or storage, which stay in integer minor units.
export const toMajorUnits = (amountMinor: number, currency: string): number =>
  Number(minorToDecimal(amountMinor, EXPONENTS.get(currency) ?? 2));

// 499 from "4.99" in usd, 500 from "500" in jpy: exact, never through a float. Null when the text
// is not an amount of that currency (a sign, letters, more decimals than the currency has).
export function decimalToMinor(text: string, currency: string): number | null {
  const exponent = EXPONENTS.get(currency);
  const match = /^(\d{1,15})(?:\.(\d*))?$/.exec(text.trim());
  if (exponent === undefined || !match) return null;
  const fraction = match[2] ?? "";
  if (fraction.length > exponent) return null;
  const value = Number((match[1] ?? "") + fraction.padEnd(exponent, "0"));
  return Number.isSafeInteger(value) ? value : null;
}

// Decimals shown: the exponent, except where every valid amount ends in zeros (whole krónur).
function shownDecimals(currency: string, exponent: number): number {
  const step = STEPS.get(currency) ?? 1;
  return step >= 10 ** exponent ? 0 : exponent;
}

const formatters = new Map<string, Intl.NumberFormat>();

// "$1,234.50", "¥500", "KWD 1.250": Intl.NumberFormat with the currency's own decimals, fed an
// exact decimal string (Intl formats strings without rounding through a double). A currency outside
// the table (an old payment's) is shown with its code and ISO's usual two decimals.
export function formatMoney(amountMinor: number, currency: string, locale = "en"): string {
  const exponent = EXPONENTS.get(currency) ?? 2;
  const decimals = shownDecimals(currency, exponent);
  const key = `${locale}:${currency}`;
  let format = formatters.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, {
      style: "currency",
      currency: currency.toUpperCase(),
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    });
    formatters.set(key, format);
  }
  return format.format(minorToDecimal(amountMinor, exponent));
}
