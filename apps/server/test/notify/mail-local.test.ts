// The local outbox (no SMTP_URL, the embedded default): mail is kept for /dev/mail, escaped,
// dropped with the user's other personal data on erasure, and not served in production.
import { mails } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { startTestServer, testDb } from "../harness.ts";
import { buy, call, signUp } from "./mail-helpers.ts";

const { db } = testDb;
const local = await startTestServer({ MAIL_POLL_INTERVAL_MS: "100" });
const production = await startTestServer({ NODE_ENV: "production", ALLOW_LOCAL_PAYMENTS: "true" });

describe("the local outbox (no SMTP_URL)", () => {
  it("keeps mail for /dev/mail, escaped; erasure drops the user's kept mail", async () => {
    const buyer = await signUp(local.url);
    await buy(local.url, buyer.cookie);
    await expect
      .poll(async () => (await call(local.url, "GET", "/dev/mail")).body as string, { timeout: 10_000 })
      .toContain(buyer.email);
    const page = (await call(local.url, "GET", "/dev/mail")).body as string;
    expect(page).not.toContain("<b>Pro</b>");
    expect(page).not.toContain("<img src=x");
    expect(page).toContain("&lt;b&gt;Pro&lt;/b&gt;");
    const [kept] = await db.select().from(mails).where(eq(mails.userId, buyer.id));
    const html = await call(local.url, "GET", `/dev/mail/${kept?.id}`);
    expect(html.status).toBe(200);
    expect(html.headers.get("content-security-policy")).toContain("sandbox");
    await local.services.gdpr.erase({ userId: buyer.id, actorId: null, reason: "test erasure" });
    expect(await db.select().from(mails).where(eq(mails.userId, buyer.id))).toHaveLength(0);
    // The confirmation is in the local outbox, without the address it went to.
    const after = (await call(local.url, "GET", "/dev/mail")).body as string;
    expect(after).toContain("Your account has been erased");
    expect(after).toContain("(erased address)");
    expect(after).not.toContain(buyer.email);
  });

  it("is not served in production", async () => {
    expect((await call(production.url, "GET", "/dev/mail")).status).toBe(404);
  });
});
