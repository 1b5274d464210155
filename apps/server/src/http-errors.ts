import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { isDatabaseUnavailable } from "@credits/db";
import { type ErrorSource, redactText, reportError } from "@credits/observability";

// The REST error body, { error: { code, message } }, built in one place for every non-tRPC path.
export interface ErrorBody {
  error: { code: string; message: string; fields?: Record<string, string[]>; requestId?: string };
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  extra: { fields?: Record<string, string[]>; requestId?: string; headers?: Record<string, string> } = {},
): Response {
  const body: ErrorBody = {
    error: {
      code,
      // Redacted like the logs: a message echoing a path or input never hands a secret back.
      message: redactText(message),
      ...(extra.fields ? { fields: extra.fields } : {}),
      ...(extra.requestId ? { requestId: extra.requestId } : {}),
    },
  };
  return Response.json(body, { status, headers: extra.headers ?? {} });
}

// The answer to an error no handler answered: the app's onError, and the lean route's
// (lean-reads.ts), so that both answer and report a failure alike. An unavailable database is a
// brief 503; anything else is logged and a 500 naming only the request id.
export function unhandledErrorResponse(error: unknown, requestId: string, route: string): Response {
  if (isDatabaseUnavailable(error)) {
    return errorResponse(503, "UNAVAILABLE", "the service is briefly unavailable, try again shortly", {
      requestId,
      headers: { "Retry-After": "1" },
    });
  }
  logInternal("http", requestId, route, error);
  return errorResponse(500, "INTERNAL", "internal error", { requestId });
}

// Logged with the trace id, counted in errors_total and passed to the error hook (ERROR_WEBHOOK_URL).
// Only the error itself, redacted, and where it happened: never the request, which may carry
// credentials. The client sees a generic message and the request id.
export function logInternal(where: ErrorSource, requestId: string, route: string | undefined, error: unknown) {
  reportError(error, { where, requestId, route });
}

// Requests Node's HTTP parser refuses before any handler sees them (a head over its 16 KiB limit,
// a malformed request line) are answered in the same { error } shape, not with Node's bare status
// line. The socket is closed after: the rest of what the client sent cannot be trusted.
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "HEADERS_TOO_LARGE", "request headers (or URL) too large"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "REQUEST_TIMEOUT", "the request took too long to arrive"]
        : [400, "BAD_REQUEST", "malformed HTTP request"];
  const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
