import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getResponse } from "msw";
import { createStripeApiMock, type StripeApiMock } from "./stripe-handlers.ts";

// The same msw handlers served over real HTTP, for processes msw cannot intercept (the server
// children of the fault harness and the bench): point STRIPE_API_BASE at `base`. Each request is
// rebuilt as a fetch Request on the mock's own base URL and answered by msw's getResponse, so the
// state, the recorded requests and the failure switch are the in-process mock's, one definition.

export interface ServedStripeApi {
  // An origin such as http://127.0.0.1:41234, what STRIPE_API_BASE takes.
  base: string;
  mock: StripeApiMock;
  close(): Promise<void>;
}

// Stripe's answer to a path it has no endpoint for.
function unrecognized(method: string, path: string): Response {
  const message = `Unrecognized request URL (${method}: ${path}).`;
  return Response.json({ error: { type: "invalid_request_error", message } }, { status: 404 });
}

async function toFetchRequest(req: IncomingMessage, base: string): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const method = req.method ?? "GET";
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
    else for (const item of value ?? []) headers.append(name, item);
  }
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(new URL(req.url ?? "/", base), {
    method,
    headers,
    ...(hasBody ? { body: Buffer.concat(chunks) } : {}),
  });
}

async function answer(mock: StripeApiMock, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const request = await toFetchRequest(req, mock.baseUrl);
  const { pathname } = new URL(request.url);
  const response = (await getResponse(mock.handlers, request)) ?? unrecognized(request.method, pathname);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

export async function serveStripeApiMock(mock: StripeApiMock = createStripeApiMock()): Promise<ServedStripeApi> {
  const server = createServer((req, res) => {
    answer(mock, req, res).catch((error: unknown) => {
      // A client that gave up (a timeout against "hang") leaves nothing to answer.
      if (res.headersSent || res.destroyed) return;
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { type: "api_error", message: String(error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    mock,
    async close() {
      // Requests held by "hang" never finish on their own.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
