// Shared by the exactly-once tests (idempotency*.test.ts): a server with the Stripe mock, buying and
// delivering, and seeded shuffles.
import {
  deliver,
  failOnLoggedError,
  type Purchase,
  purchaseEvents,
  type Reply,
  type StripeJson,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

export const { mock } = startStripeMock();
export const server = await startTestServer(stripeEnv);
failOnLoggedError();

export const buy = (slug: "starter" | "standard" | "pro" = "starter", userId?: string) =>
  startPurchase(server, slug, userId);
export const events = (purchase: Purchase) => purchaseEvents(mock, purchase);
export const send = (event: StripeJson) => deliver(server.url, event);
export const outcome = (reply: Reply) =>
  reply.status === 200 ? reply.body.outcome : `${reply.status} ${reply.body?.error?.code}`;

// Seeded, so a failing run can be replayed.
export function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function shuffled<T>(items: T[], next: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

export function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]),
  );
}
