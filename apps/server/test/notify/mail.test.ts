// Mail through a real SMTP server in the test process (smtp-server), parsed with mailparser:
// receipts and low-balance alerts queued by the ledger, erasure confirmations, retries, one mail
// per cause, hostile names. The local outbox: mail-local.test.ts.
import { randomUUID } from "node:crypto";
import { autoTopUpAttempts, creditPackages, mails } from "@credits/db/schema";
import { and, eq, like } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { startTestServer, testDb } from "../harness.ts";
import { buy, call, signUp } from "./mail-helpers.ts";
import { startSmtpCapture } from "./smtp-capture.ts";

const { db } = testDb;
const smtp = await startSmtpCapture({ failFirst: 1 });
afterAll(() => smtp.close());
const server = await startTestServer({ SMTP_URL: smtp.url, MAIL_POLL_INTERVAL_MS: "100" });
// The only instance on this file's database: every instance sends the shared queue with its own
// transport, so a local-outbox instance here would keep some of these mails instead.
const mailsTo = (address: string) =>
  smtp.received.filter((mail) => mail.to && JSON.stringify(mail.to).includes(address));

describe("mail over SMTP", () => {
  it("a purchase sends one receipt (after a refused first attempt), escaped, with no injected header", async () => {
    const buyer = await signUp(server.url);
    const { paymentId, credits } = await buy(server.url, buyer.cookie);
    const receiptRow = async () =>
      (
        await db
          .select()
          .from(mails)
          .where(eq(mails.cause, `receipt:${paymentId}`))
      )[0];
    // Refused once, the mail is due again 15 to 30 s later (the first backoff, jittered; the
    // claim's lease is 60 s): waiting for that would be most of this file's time, so the test
    // checks the retry was scheduled and then makes it due, as that much time passing would.
    await expect.poll(() => smtp.refused(), { timeout: 10_000, interval: 20 }).toBe(1);
    const retryIn = async () => ((await receiptRow())?.nextAttemptAt.getTime() ?? 0) - Date.now();
    await expect.poll(retryIn, { timeout: 10_000, interval: 20 }).toBeLessThanOrEqual(30_000);
    expect(await retryIn()).toBeGreaterThan(5_000);
    expect(await receiptRow()).toMatchObject({ status: "pending", attempts: 1 });
    expect(mailsTo(buyer.email)).toHaveLength(0);
    await db
      .update(mails)
      .set({ nextAttemptAt: new Date() })
      .where(eq(mails.cause, `receipt:${paymentId}`));
    await expect.poll(() => mailsTo(buyer.email).length, { timeout: 10_000, interval: 50 }).toBe(1);
    const [receipt] = mailsTo(buyer.email);
    expect(receipt?.subject).toBe(`Receipt: ${credits} credits (<b>Pro</b> Subject: injected X-Evil: 1)`);
    expect(receipt?.headers.get("x-evil")).toBeUndefined();
    expect(receipt?.headers.get("bcc")).toBeUndefined();
    expect(receipt?.text).toContain(`Credits added: ${credits}.`);
    expect(receipt?.html).not.toMatch(/<img|<b>Pro/);
    expect(receipt?.html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    // Marked sent once the relay accepted it (just after the message arrived here).
    await expect.poll(receiptRow).toMatchObject({ status: "sent", attempts: 2, rendered: null });
    // The success page confirming the same payment queues nothing more.
    await call(server.url, "POST", "/api/v1/checkout/confirm", { cookie: buyer.cookie, body: { paymentId } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(mailsTo(buyer.email)).toHaveLength(1);
  });

  it("crossing the threshold sends one low-balance mail", async () => {
    const user = await signUp(server.url);
    await call(server.url, "PUT", "/api/v1/me/alerts", { cookie: user.cookie, body: { lowBalanceThreshold: 30 } });
    const scope = { kind: "user", id: user.id } as const;
    await server.services.credits.grant({ userId: user.id, amount: 50, idempotencyKey: randomUUID(), scope });
    await Promise.all(
      [15, 15, 15].map((amount) =>
        server.services.credits.spend({ userId: user.id, amount, idempotencyKey: randomUUID(), scope }),
      ),
    );
    await expect.poll(() => mailsTo(user.email).length, { timeout: 10_000, interval: 200 }).toBe(1);
    expect(mailsTo(user.email)[0]?.subject).toBe("Your balance is low: 20 credits");
  });

  it("erasure sends its confirmation to the erased address, and stores nothing of it", async () => {
    const user = await signUp(server.url);
    await call(server.url, "PUT", "/api/v1/me/alerts", { cookie: user.cookie, body: { lowBalanceThreshold: 0 } });
    await server.services.gdpr.erase({ userId: user.id, actorId: null, reason: "test erasure" });
    await expect.poll(() => mailsTo(user.email).length, { timeout: 10_000, interval: 200 }).toBe(1);
    expect(mailsTo(user.email)[0]?.subject).toBe("Your account has been erased");
    await expect
      .poll(
        async () =>
          (
            await db
              .select()
              .from(mails)
              .where(eq(mails.cause, `erasure:${user.id}`))
          ).length,
      )
      .toBe(0);
  });

  it("a declined auto top-up mails a link to pay for the pack on-session (text and an HTML anchor)", async () => {
    const user = await signUp(server.url);
    await call(server.url, "PUT", "/api/v1/me/alerts", { cookie: user.cookie, body: { lowBalanceThreshold: 0 } });
    const [starter] = await db.select().from(creditPackages).where(eq(creditPackages.slug, "starter"));
    const body = { enabled: true, threshold: 50, packageId: starter?.id };
    expect((await call(server.url, "PUT", "/api/v1/me/auto-topup", { cookie: user.cookie, body })).status).toBe(200);
    // The first checkout after opting in saves the card: here the local card that declines.
    const { packageId } = await buy(server.url, user.cookie, "pay_declining_card");
    const scope = { kind: "user", id: user.id } as const;
    await server.services.credits.spend({ userId: user.id, amount: 60, idempotencyKey: randomUUID(), scope });
    expect(await server.services.autoTopUp.runOnce()).toEqual({ claimed: 1 });
    const failed = () => mailsTo(user.email).filter((mail) => mail.subject?.includes("top-up"));
    // Each step's state, so a stall names the step: the attempt, its mail's row, what arrived.
    const steps = async () => {
      const [attempt] = await db
        .select({ status: autoTopUpAttempts.status, reason: autoTopUpAttempts.reason })
        .from(autoTopUpAttempts)
        .where(eq(autoTopUpAttempts.userId, user.id));
      const [row] = await db
        .select({ status: mails.status, attempts: mails.attempts })
        .from(mails)
        .where(and(eq(mails.userId, user.id), like(mails.cause, "auto_topup_failed:%")));
      return { attempt, mail: row, received: failed().length };
    };
    await expect.poll(steps, { timeout: 10_000, interval: 200 }).toEqual({
      attempt: { status: "failed", reason: "declined" },
      mail: { status: "sent", attempts: 1 },
      received: 1,
    });
    const [mail] = failed();
    const payUrl = `http://localhost:3000/credits?package=${packageId}`;
    expect(mail?.subject).toBe("Your automatic top-up did not go through");
    expect(mail?.text).toContain("We could not charge your saved card for <b>Pro</b> Subject: injected X-Evil: 1.");
    expect(mail?.text).toContain(`Pay for it now: ${payUrl}`);
    const anchors = [...String(mail?.html).matchAll(/<a href="([^"]*)">([^<]*)<\/a>/g)];
    expect(anchors.map(([, href, label]) => ({ href, label }))).toEqual([{ href: payUrl, label: "Pay for it now" }]);
    expect(mail?.html).not.toMatch(/<b>Pro/);
  });
});
