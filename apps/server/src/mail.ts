import { escapeHtml, type MailTransport } from "@credits/core";
import { type Database, listLocalMail } from "@credits/db";
import type { Hono, Env as HonoEnv } from "hono";
import nodemailer from "nodemailer";

const SMTP_TIMEOUT_MS = 10_000;
const DEV_MAIL_LIMIT = 100;

// SMTP_URL set: nodemailer over it. Unset (the embedded default): nothing leaves the machine,
// the dispatcher keeps each mail in the local outbox (/dev/mail).
export function mailTransport(smtpUrl: string | undefined, from: string): MailTransport {
  if (!smtpUrl) return { kind: "local", send: async () => {} };
  const transporter = nodemailer.createTransport({
    url: smtpUrl,
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
  });
  return {
    kind: "smtp",
    send: async (mail) => {
      await transporter.sendMail({
        from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        // Nodemailer must not follow file paths or URLs found in the content.
        disableFileAccess: true,
        disableUrlAccess: true,
      });
    },
  };
}

// /dev/mail: the local outbox, in development and tests only (production answers 404, as for
// any unknown path). Each mail's HTML is served on its own, sandboxed: no script, no same origin.
export function mountDevMail<E extends HonoEnv>(app: Hono<E>, db: Database): void {
  app.get("/dev/mail", async (c) => {
    const kept = await listLocalMail(db, DEV_MAIL_LIMIT);
    const items = kept
      .map(
        (mail) =>
          `<article><h2>${escapeHtml(mail.rendered.subject)}</h2><p>To ${escapeHtml(mail.rendered.to)} · ` +
          `${mail.createdAt.toISOString()} · <a href="/dev/mail/${mail.id}">HTML</a></p>` +
          `<pre>${escapeHtml(mail.rendered.text)}</pre></article>`,
      )
      .join("");
    return c.html(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Local mail</title></head><body>` +
        `<h1>Local mail (no SMTP_URL)</h1>${items || "<p>No mail yet.</p>"}</body></html>`,
    );
  });
  app.get("/dev/mail/:id", async (c) => {
    const mail = (await listLocalMail(db, DEV_MAIL_LIMIT)).find((candidate) => candidate.id === c.req.param("id"));
    if (!mail) return c.text("not found", 404);
    c.header("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'");
    return c.html(mail.rendered.html);
  });
}
