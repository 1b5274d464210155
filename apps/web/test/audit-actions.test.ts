// The audit page's action filter and labels take only the actions of core's list: a name the
// list does not hold (an object's own prototype keys among them) is no action, and is shown as it is.
import { describe, expect, it } from "vitest";
import { actionLabel, isAuditAction } from "../app/lib/audit.ts";

const prototypeKeys = ["constructor", "toString", "hasOwnProperty", "__proto__", "valueOf"];

describe("audit actions on the panel", () => {
  it("a listed action is one, with its label", () => {
    expect(isAuditAction("payment.promotion_review")).toBe(true);
    expect(actionLabel("adjust")).toBe("Adjustment applied");
  });

  it("a prototype key is no action, and its label is the name itself", () => {
    for (const key of prototypeKeys) {
      expect(isAuditAction(key)).toBe(false);
      expect(actionLabel(key)).toBe(key);
    }
  });
});
