import { formatMoney } from "../money.ts";

// The mails the platform sends: plain text and HTML from the same facts. Every value that came
// from a person (a display name, a pack name an admin typed) is escaped in the HTML and stripped
// of line breaks in the subject, so it can neither add markup nor add a header.

export const mailTemplates = [
  "receipt",
  "low_balance",
  "auto_topup_failed",
  "credits_expiring",
  "erasure_confirmation",
  "endpoint_disabled",
] as const;
export type MailTemplate = (typeof mailTemplates)[number];

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface MailFacts {
  // The recipient's display name, if they gave one.
  name: string | null;
  // Facts of the cause, as queued (data) and as read when sent (pack, money).
  credits?: number;
  balance?: number;
  threshold?: number;
  packName?: string;
  amountMinor?: number;
  currency?: string;
  payUrl?: string;
  // Why an auto top-up failed (its attempt's reason).
  reason?: string;
  // When a grant's credits expire (ISO 8601).
  expiresAt?: string;
  // An outbound webhook endpoint's host (never its path or query: they may carry tokens).
  endpointHost?: string;
  failedDeliveries?: number;
}

const integer = new Intl.NumberFormat("en");

// Only an http(s) address becomes a link: without one the mail keeps its words of what to do.
const isWebLink = (href: string) => /^https?:\/\//.test(href);

export function renderMail(template: MailTemplate, facts: MailFacts): RenderedMail {
  const hello = facts.name ? `Hello ${oneLine(facts.name)},` : "Hello,";
  const body = bodies[template](facts);
  const link = body.link && isWebLink(body.link.href) ? body.link : null;
  const text = link ? [...body.lines, `${link.label}: ${oneLine(link.href)}`] : body.lines;
  // The link is a real anchor in the HTML (only http(s), escaped), and written out in the text.
  const anchor = link ? `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>` : "";
  return {
    subject: oneLine(body.subject).slice(0, 200),
    text: [hello, "", ...text, "", "— Credits"].join("\n"),
    html: `<!doctype html><html><body><p>${escapeHtml(hello)}</p>${body.lines
      .map((line) => `<p>${escapeHtml(line)}</p>`)
      .join("")}${anchor}<p>— Credits</p></body></html>`,
  };
}

interface MailBody {
  subject: string;
  lines: string[];
  // A call to action: the page to open.
  link?: { label: string; href: string };
}

const bodies: Record<MailTemplate, (facts: MailFacts) => MailBody> = {
  receipt: (facts) => ({
    subject: `Receipt: ${credits(facts.credits)} credits${facts.packName ? ` (${facts.packName})` : ""}`,
    lines: [
      `Thank you for your purchase${facts.packName ? ` of ${oneLine(facts.packName)}` : ""}.`,
      `Credits added: ${credits(facts.credits)}.`,
      ...(facts.amountMinor !== undefined && facts.currency
        ? [`Amount paid: ${formatMoney(facts.amountMinor, facts.currency)}.`]
        : []),
      `Your balance: ${credits(facts.balance)} credits.`,
    ],
  }),
  low_balance: (facts) => ({
    subject: `Your balance is low: ${credits(facts.balance)} credits`,
    lines: [
      `Your balance went below your alert threshold of ${credits(facts.threshold)} credits.`,
      `Your balance: ${credits(facts.balance)} credits.`,
      "You can buy more credits on the Credits page, or change the alert on your Account page.",
    ],
  }),
  auto_topup_failed: (facts) =>
    facts.reason === "price_unavailable"
      ? packNoLongerSold(facts)
      : {
          subject: "Your automatic top-up did not go through",
          lines: [
            `We could not charge your saved card for ${facts.packName ? oneLine(facts.packName) : "your top-up"}.`,
            ...(facts.payUrl && isWebLink(facts.payUrl) ? [] : ["You can buy credits on the Credits page."]),
          ],
          ...(facts.payUrl ? { link: { label: "Pay for it now", href: facts.payUrl } } : {}),
        },
  credits_expiring: (facts) => ({
    subject: `${credits(facts.credits)} of your credits expire on ${day(facts.expiresAt)}`,
    lines: [
      `${credits(facts.credits)} credits of your balance expire on ${day(facts.expiresAt)} (UTC) if they are not used by then.`,
      "Credits that expire sooner are spent first.",
    ],
  }),
  endpoint_disabled: (facts) => ({
    subject: `Webhook endpoint disabled: ${facts.endpointHost ?? "an endpoint"}`,
    lines: [
      `The outbound webhook endpoint at ${facts.endpointHost ? oneLine(facts.endpointHost) : "an unnamed host"} was disabled after ${credits(facts.failedDeliveries)} failed deliveries in a row.`,
      "Events are no longer sent to it. Fix the receiver, then enable it again on the admin Webhooks page; failed deliveries can be replayed from its delivery log.",
    ],
  }),
  erasure_confirmation: () => ({
    subject: "Your account has been erased",
    lines: [
      "Your account and the personal data it held have been erased, as requested.",
      "Records the law requires us to keep (payments) no longer name you.",
    ],
  }),
};

// The pack chosen for auto top-up was archived, or no longer sells in the chosen currency: nothing
// was charged, and it cannot be bought on-session either, so the link is to /account to choose
// another pack (never to the pack itself).
function packNoLongerSold(facts: MailFacts): MailBody {
  const pack = facts.packName ? oneLine(facts.packName) : "The pack you chose";
  const currency = facts.currency ? ` in ${oneLine(facts.currency).toUpperCase()}` : "";
  return {
    subject: "Your automatic top-up did not go through: choose another pack",
    lines: [
      `${pack}, the pack you chose for automatic top-ups, is no longer sold${currency}, so we charged nothing.`,
      "Choose another pack (or currency) for automatic top-ups on your Account page.",
    ],
    ...(facts.payUrl ? { link: { label: "Choose another pack", href: facts.payUrl } } : {}),
  };
}

// The UTC day of an instant, e.g. 2026-12-11; "soon" when it is missing or not a date.
function day(value: string | undefined): string {
  const at = value ? new Date(value) : null;
  return at && !Number.isNaN(at.getTime()) ? at.toISOString().slice(0, 10) : "soon";
}

function credits(value: number | undefined): string {
  return integer.format(value ?? 0);
}

// No CR, LF or other control character survives into a subject or a line of text.
export function oneLine(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").trim();
}

export function escapeHtml(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}
