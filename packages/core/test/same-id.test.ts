import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sameId } from "../src/validate.ts";

// sameId is how the rules that compare ids in JavaScript (one's own ledger, one's own key's owner,
// a retried posting) see a uuid: as PostgreSQL does, whatever its case.
describe("sameId", () => {
  it("is the same uuid in any case, and never a different one or a missing one", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.uuid(), fc.boolean(), (a, b, shout) => {
        const spelled = shout ? a.toUpperCase() : a;
        expect(sameId(a, spelled)).toBe(true);
        expect(sameId(a, b)).toBe(a === b);
        expect(sameId(a, null)).toBe(false);
        expect(sameId(undefined, spelled)).toBe(false);
      }),
    );
  });
});
