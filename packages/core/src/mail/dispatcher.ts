import { createHash } from "node:crypto";
import type { Clock } from "../clock.ts";
import { type MailFacts, type MailTemplate, type RenderedMail, renderMail } from "./templates.ts";

// Mail is queued in the transaction of its cause (a table row, unique per cause: the ledger
// trigger queues receipts and low-balance alerts) and sent after
// commit by any instance: claimed with a lease (FOR UPDATE SKIP LOCKED), rendered from the data
// as it is at sending, retried with backoff, never queued twice for one cause.

export interface DueMail {
  id: string;
  cause: string;
  template: MailTemplate;
  attempts: number;
  // The user's address now (null once erased), or the queued one of an erasure confirmation.
  to: string | null;
  facts: MailFacts;
}

export interface OutgoingMail extends RenderedMail {
  to: string;
  // Stable per cause: a receiver (or a relay) can tell a resend after a lost acknowledgement.
  messageId: string;
}

export interface MailStore {
  // Due pending mails, each claimed until `leaseUntil` (its attempts counted).
  claimDue(limit: number, now: Date, leaseUntil: Date): Promise<DueMail[]>;
  // Sent: the local outbox keeps `kept` (shown at /dev/mail); SMTP keeps only the fact.
  markSent(id: string, at: Date, kept: OutgoingMail | null): Promise<void>;
  // Nobody to send to any more (the user was erased meanwhile), or out of attempts.
  finish(id: string, status: "dropped" | "failed"): Promise<void>;
  retryAt(id: string, at: Date): Promise<void>;
  // A mail sent at once (not queued) kept in the local outbox.
  keepLocal(cause: string, template: MailTemplate, kept: OutgoingMail): Promise<void>;
  // The local outbox keeps mail for a while only: it holds addresses and names.
  pruneLocal(before: Date): Promise<number>;
}

export interface MailTransport {
  // "local": nothing leaves the machine; the mail is kept for /dev/mail instead.
  kind: "smtp" | "local";
  send(mail: OutgoingMail): Promise<void>;
}

export const MAIL_MAX_ATTEMPTS = 8;
const MAIL_BATCH = 20;
const LEASE_MS = 60_000;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_MAX_MS = 3_600_000;
export const LOCAL_MAIL_RETENTION_MS = 7 * 24 * 3_600_000;

export function createMailDispatcher(deps: {
  store: MailStore;
  transport: MailTransport;
  clock: Clock;
  log?: (event: { level: "warn" | "error"; message: string; cause: string }) => void;
}) {
  const { store, transport, clock } = deps;

  // One pass: sends what is due; returns how many were sent.
  async function runOnce(): Promise<number> {
    const now = clock.now();
    if (transport.kind === "local") await store.pruneLocal(new Date(now.getTime() - LOCAL_MAIL_RETENTION_MS));
    const due = await store.claimDue(MAIL_BATCH, now, new Date(now.getTime() + LEASE_MS));
    let sent = 0;
    for (const mail of due) {
      if (await deliver(mail)) sent += 1;
    }
    return sent;
  }

  async function deliver(mail: DueMail): Promise<boolean> {
    if (!mail.to) {
      await store.finish(mail.id, "dropped");
      return false;
    }
    const outgoing = compose(mail.cause, mail.template, mail.to, mail.facts);
    try {
      await transport.send(outgoing);
    } catch {
      // The transport's error may quote the address: only the cause is logged.
      if (mail.attempts >= MAIL_MAX_ATTEMPTS) {
        await store.finish(mail.id, "failed");
        deps.log?.({ level: "error", message: "mail failed for good", cause: mail.cause });
      } else {
        const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (mail.attempts - 1));
        await store.retryAt(mail.id, new Date(clock.now().getTime() + backoff * (0.5 + Math.random() / 2)));
        deps.log?.({ level: "warn", message: "mail not sent, will retry", cause: mail.cause });
      }
      return false;
    }
    await store.markSent(mail.id, clock.now(), transport.kind === "local" ? outgoing : null);
    return true;
  }

  // Erasure's confirmation, sent once the erasure committed, to the address only this call still
  // holds: never queued, so no copy of the address outlives the erasure (the local outbox keeps
  // the mail without it). Not retried: erasure is the duty, the confirmation a courtesy.
  async function sendErasureConfirmation(userId: string, address: string): Promise<void> {
    const outgoing = compose(`erasure:${userId}`, "erasure_confirmation", address, { name: null });
    await transport.send(outgoing);
    if (transport.kind === "local") {
      await store.keepLocal(`erasure:${userId}`, "erasure_confirmation", { ...outgoing, to: "(erased address)" });
    }
  }

  return { runOnce, sendErasureConfirmation };
}

function compose(cause: string, template: MailTemplate, to: string, facts: MailFacts): OutgoingMail {
  return {
    ...renderMail(template, facts),
    to,
    messageId: `<${createHash("sha256").update(cause).digest("hex").slice(0, 32)}@credits.mail>`,
  };
}

export type MailDispatcher = ReturnType<typeof createMailDispatcher>;
