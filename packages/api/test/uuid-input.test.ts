import { describe, expect, it } from "vitest";
import { uuid } from "../src/schemas.ts";

// Every uuid the API reads is lower-cased as it is parsed, so the rules behind it see one spelling.
describe("the uuid input", () => {
  it("reads any case as the lower-case id, and refuses what is not a uuid", () => {
    expect(uuid.parse("3F2504E0-4F89-41D3-9A0C-0305E82C3301")).toBe("3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    expect(uuid.safeParse("3F2504E0-4F89-41D3-9A0C-0305E82C330").success).toBe(false);
  });
});
