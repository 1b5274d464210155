// Ledger idempotency keys live in two namespaces so that a client-chosen key can never take the
// key of a system event (which would, say, block a purchase from ever being credited).
//
// A client's key is also scoped to its caller (an API key, or the signed-in user): one caller
// cannot take a key another will use (a user spending under a tool's predictable job id would
// make the tool's call a 409). Keys stored before scoping (`c:<key>`, migration 0006) were global;
// they stay valid: a posting is refused when its unscoped legacy key is already in the ledger, and
// a retry finds its row under either key. No new row is ever written under a legacy key, so that
// read cannot race a write.

// Who made a request: the idempotency scope of its keys.
export type IdempotencyScope = { kind: "apiKey"; id: string } | { kind: "user"; id: string };

export interface ClientKey {
  key: string;
  legacy: string;
}

export function clientKey(scope: IdempotencyScope, key: string): ClientKey {
  const prefix = scope.kind === "apiKey" ? "k" : "u";
  return { key: `c:${prefix}:${scope.id}:${key}`, legacy: `c:${key}` };
}

export const systemKey = {
  purchase: (paymentId: string) => `s:purchase:${paymentId}`,
  holdReserve: (holdId: string) => `s:hold:${holdId}`,
  holdSettle: (holdId: string) => `s:hold-settle:${holdId}`,
  // Credits a refund or dispute took out of an open hold (the hold gives them back, the clawback
  // takes them): one per hold and clawback event.
  holdClawback: (holdId: string, source: string) => `s:hold-clawback:${holdId}:${source}`,
  // The clawback row that takes those credits back (the hold part of the refund or dispute).
  holdClawbackTake: (holdId: string, source: string) => `s:hold-clawback-take:${holdId}:${source}`,
  // The credit or debit an approved adjustment request applied (an admin's or a key's).
  approvedAdjustment: (requestId: string) => `s:adjustment:${requestId}`,
};
