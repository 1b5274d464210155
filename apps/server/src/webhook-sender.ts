import { lookup as dnsLookup } from "node:dns/promises";
import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { isIP } from "node:net";
import type { ResolveHost, WebhookSender } from "@credits/core";
import { redactText } from "@credits/observability";
import { Webhook } from "standardwebhooks";

const EXCERPT_BYTES = 1_024;

// Every address the system resolver gives for a name (IPv4 and IPv6).
export const resolveHost: ResolveHost = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

// The Standard Webhooks signature header: one `v1,<base64>` per secret, space-separated, so a
// receiver that knows either secret of a rotation's overlap verifies it.
export function signatureHeader(secrets: string[], eventId: string, timestamp: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(eventId, timestamp, body)).join(" ");
}

// A lookup that answers the address the caller already checked, whatever the name resolves to
// now: the connection goes where the SSRF check looked (no DNS rebinding between the two).
const pinnedTo =
  (address: string): LookupFunction =>
  (_host, options, callback) => {
    const family = isIP(address);
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };

// What a receiver answered, made safe to store and show: the first KiB, control characters
// replaced, secrets and personal data redacted.
export function sanitizeExcerpt(raw: Buffer): string | null {
  if (raw.length === 0) return null;
  const text = raw
    .subarray(0, EXCERPT_BYTES)
    .toString("utf8")
    .replace(/\uFFFD$/, "");
  return redactText(text.replace(/[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu, " ")).slice(
    0,
    EXCERPT_BYTES,
  );
}

// POSTs one attempt over node:http(s), connecting to exactly the given address (TLS still checks
// the certificate against the URL's host), within one timeout for the whole exchange.
export function createWebhookSender(): WebhookSender {
  return {
    send: ({ url, address, eventId, timestamp, body, secrets, timeoutMs }) =>
      new Promise((resolve) => {
        const headers = {
          "content-type": "application/json",
          "user-agent": "credits-webhooks/1",
          "webhook-id": eventId,
          "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
          "webhook-signature": signatureHeader(secrets, eventId, timestamp, body),
        };
        let settled = false;
        let request: ClientRequest | null = null;
        const finish = (result: {
          statusCode: number | null;
          error: string | null;
          responseExcerpt: string | null;
        }) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          request?.destroy();
          resolve(result);
        };
        const timer = setTimeout(
          () => finish({ statusCode: null, error: `timed out after ${timeoutMs} ms`, responseExcerpt: null }),
          timeoutMs,
        );
        const send = url.protocol === "https:" ? httpsRequest : httpRequest;
        request = send(url, { method: "POST", headers, lookup: pinnedTo(address) }, (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const done = () =>
            finish({
              statusCode: response.statusCode ?? null,
              error: null,
              responseExcerpt: sanitizeExcerpt(Buffer.concat(chunks)),
            });
          response.on("data", (chunk: Buffer) => {
            chunks.push(chunk);
            size += chunk.length;
            // Enough for the log: the rest of a large answer is not read.
            if (size >= EXCERPT_BYTES) done();
          });
          response.on("end", done);
          response.on("error", done);
        });
        // The error's code only: a message can carry the address or parts of the URL.
        request.on("error", (error: NodeJS.ErrnoException) =>
          finish({ statusCode: null, error: `connection failed (${error.code ?? "error"})`, responseExcerpt: null }),
        );
        request.end(body);
      }),
  };
}
