import fc from "fast-check";
import { expect, it } from "vitest";
import { planClawback } from "../src/clawback.ts";

it("a clawback plan takes from the balance first, then holds in order, never more than wanted or there", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: -5_000, max: 10_000 }),
      fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 10 }),
      (wanted, balance, holds) => {
        const { fromBalance, fromHolds } = planClawback(wanted, balance, holds);
        const total = fromBalance + fromHolds.reduce((sum, take) => sum + take, 0);
        const there = Math.max(balance, 0) + holds.reduce((sum, available) => sum + available, 0);
        expect(total).toBe(Math.min(wanted, there));
        expect(fromBalance).toBe(Math.min(wanted, Math.max(balance, 0)));
        fromHolds.forEach((take, index) => {
          expect(take).toBeGreaterThanOrEqual(0);
          expect(take).toBeLessThanOrEqual(holds[index] ?? 0);
          // A later hold is drawn only once every earlier one is empty.
          if (take > 0) expect(fromHolds.slice(0, index)).toEqual(holds.slice(0, index));
        });
      },
    ),
  );
});
