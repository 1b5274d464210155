import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GrantModel, owedBy, spendingOrder } from "./grant-model.ts";

// The reference model's own properties (the database is checked against it in packages/db).
const command = fc.oneof(
  fc.record({
    op: fc.constant("credit" as const),
    amount: fc.integer({ min: 1, max: 20 }),
    priority: fc.integer({ min: 0, max: 3 }).map((p) => p * 25),
    ttl: fc.option(fc.integer({ min: 1, max: 50 })),
  }),
  fc.record({ op: fc.constant("debit" as const), amount: fc.integer({ min: 1, max: 25 }), dispute: fc.boolean() }),
  fc.record({ op: fc.constant("hold" as const), amount: fc.integer({ min: 1, max: 15 }) }),
  fc.record({ op: fc.constant("release" as const), part: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 30 }) }),
);

describe("grant reference model", () => {
  it("spends promotional (priority 10) before paid (50), and never an expired grant", () => {
    const model = new GrantModel();
    model.credit({ id: "paid", priority: 50, expiresAt: null, createdAt: 0, paymentId: null }, 5, 0);
    model.credit({ id: "promo", priority: 10, expiresAt: 10, createdAt: 1, paymentId: null }, 5, 1);
    expect(model.debit(3, 2)).toEqual([{ grantId: "promo", amount: -3 }]);
    expect(model.balanceAt(10)).toBe(5);
    expect(model.debit(6, 10)).toBeNull();
    expect(model.expiries).toEqual([{ grantId: "promo", amount: 2 }]);
  });

  it("a clawback takes its payment's grant first", () => {
    const model = new GrantModel();
    model.credit({ id: "promo", priority: 10, expiresAt: null, createdAt: 0, paymentId: null }, 5, 0);
    model.credit({ id: "bought", priority: 50, expiresAt: null, createdAt: 1, paymentId: "pay" }, 5, 1);
    expect(model.debit(6, 2, { paymentId: "pay" })).toEqual([
      { grantId: "bought", amount: -5 },
      { grantId: "promo", amount: -1 },
    ]);
  });

  it("conserves credits: grants hold exactly the positive balance; debits follow spending order", () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        const model = new GrantModel();
        const holds: { rows: { grantId: string; amount: number }[][]; amount: number; returned: number }[] = [];
        let now = 0;
        let ids = 0;
        for (const c of commands) {
          const id = `g${String(ids++).padStart(4, "0")}`;
          if (c.op === "credit") {
            model.credit(
              {
                id,
                priority: c.priority,
                expiresAt: c.ttl === null ? null : now + c.ttl,
                createdAt: now,
                paymentId: null,
              },
              c.amount,
              now,
            );
          } else if (c.op === "debit" || c.op === "hold") {
            model.expireDue(now);
            const order = model.live(now);
            const taken = model.debit(c.amount, now, { allowNegative: c.op === "debit" && c.dispute });
            if (taken) {
              // Every grant before the last one taken from was emptied; none was past its expiry.
              const last = order.findIndex((g) => g.id === taken.at(-1)?.grantId);
              for (const g of order.slice(0, Math.max(last, 0))) expect(g.remaining).toBe(0);
              expect(taken.map((a) => a.grantId)).toEqual(order.slice(0, taken.length).map((g) => g.id));
              if (c.op === "hold") holds.push({ rows: [taken], amount: c.amount, returned: 0 });
            }
          } else if (c.op === "release" && holds.length > 0) {
            const hold = holds[c.part % holds.length];
            if (hold && hold.returned < hold.amount) {
              const give = Math.max(1, Math.floor(((hold.amount - hold.returned) * c.part) / 100));
              hold.rows.push(model.restore(owedBy(hold.rows), give, now, id));
              hold.returned += give;
            }
          } else if (c.op === "advance") {
            now += c.ms;
          }
          const held = model.grants.reduce((sum, g) => sum + g.remaining, 0);
          expect(held).toBe(Math.max(model.balance, 0));
          for (const g of model.grants) expect(g.remaining).toBeGreaterThanOrEqual(0);
          for (const g of model.grants) expect(g.remaining).toBeLessThanOrEqual(g.amount);
        }
        expect(spendingOrder(model.live(now)).map((g) => g.id)).toEqual(model.live(now).map((g) => g.id));
      }),
      { numRuns: 300 },
    );
  });
});
