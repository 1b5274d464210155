// A tiny Stripe API on a local port, for server processes started by the fault tests: the subset
// the provider calls (customers, Checkout Sessions, the reconciliation lists), objects built from
// the project's Stripe fixtures. mode: "ok", "500" (api_error) or "hang" (never answers).
import { randomBytes } from "node:crypto";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { checkoutSession, randomStripeId, type StripeJson, stripeFixture } from "@credits/stripe/testing";

export type FakeStripeMode = "ok" | "500" | "hang";

export interface FakeStripe {
  base: string;
  sessions: Map<string, StripeJson>;
  requests: number;
  setMode(mode: FakeStripeMode): void;
  close(): Promise<void>;
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const sessions = new Map<string, StripeJson>();
  const byKey = new Map<string, StripeJson>();
  let mode: FakeStripeMode = "ok";
  const hanging = new Set<ServerResponse>();
  const state = { requests: 0 };
  const send = (res: ServerResponse, status: number, body: StripeJson) => {
    res.writeHead(status, {
      "content-type": "application/json",
      "request-id": `req_${randomBytes(6).toString("hex")}`,
    });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      state.requests++;
      if (mode === "hang") {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
      }
      if (mode === "500") return send(res, 500, { error: { type: "api_error", message: "An unknown error occurred" } });
      const url = new URL(req.url ?? "/", "http://x");
      const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
      const key = req.headers["idempotency-key"];
      const replay = typeof key === "string" ? byKey.get(`${url.pathname}:${key}`) : undefined;
      if (req.method === "POST" && replay) return send(res, 200, replay);
      const remember = (object: StripeJson) => {
        if (typeof key === "string") byKey.set(`${url.pathname}:${key}`, object);
        return send(res, 200, object);
      };
      if (req.method === "POST" && url.pathname === "/v1/customers") {
        return remember(
          stripeFixture("customer", {
            id: randomStripeId("cus"),
            email: params.email ?? null,
            metadata: { userId: params["metadata[userId]"] ?? "" },
            created: Math.floor(Date.now() / 1000),
          }),
        );
      }
      if (req.method === "POST" && url.pathname === "/v1/checkout/sessions") {
        const amount =
          Number(params["line_items[0][price_data][unit_amount]"]) * Number(params["line_items[0][quantity]"] ?? 1);
        const id = `cs_test_${randomBytes(16).toString("hex")}`;
        const session = checkoutSession({
          id,
          amount_subtotal: amount,
          amount_total: amount,
          currency: params["line_items[0][price_data][currency]"] ?? null,
          client_reference_id: params.client_reference_id ?? null,
          customer: params.customer ?? null,
          metadata: Object.fromEntries(
            Object.entries(params)
              .filter(([k]) => k.startsWith("metadata["))
              .map(([k, v]) => [k.slice("metadata[".length, -1), v]),
          ),
          payment_intent: null,
          payment_status: "unpaid",
          status: "open",
          url: `https://checkout.stripe.com/c/pay/${id}`,
          created: Math.floor(Date.now() / 1000),
        });
        sessions.set(id, session);
        return remember(session);
      }
      if (req.method === "GET" && (url.pathname === "/v1/checkout/sessions" || url.pathname === "/v1/charges")) {
        return send(res, 200, { object: "list", data: [], has_more: false, url: url.pathname });
      }
      const one = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(url.pathname);
      if (req.method === "GET" && one?.[1] && sessions.has(one[1])) return send(res, 200, sessions.get(one[1]) ?? {});
      return send(res, 404, {
        error: { type: "invalid_request_error", code: "resource_missing", message: `No such ${url.pathname}` },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    sessions,
    get requests() {
      return state.requests;
    },
    setMode(next) {
      mode = next;
      if (next !== "hang") for (const res of hanging) res.destroy();
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
