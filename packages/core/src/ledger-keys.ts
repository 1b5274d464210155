// Ledger idempotency keys live in two namespaces so that a client-chosen key can never take the
// key of a system event (which would, say, block a purchase from ever being credited).
export const clientKey = (key: string) => `c:${key}`;

export const systemKey = {
  purchase: (paymentId: string) => `s:purchase:${paymentId}`,
  holdReserve: (holdId: string) => `s:hold:${holdId}`,
  holdSettle: (holdId: string) => `s:hold-settle:${holdId}`,
};
