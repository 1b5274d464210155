// The auto top-up failure mail says what to do next in every case: a link to pay on-session when
// the address is a web address, the Credits page in words when it is not (the link is dropped).
import { expect, it } from "vitest";
import { renderMail } from "../src/index.ts";

it("the auto top-up failure mail links to paying now, or names the Credits page when the address is no web link", () => {
  const linked = renderMail("auto_topup_failed", { name: null, packName: "Starter", payUrl: "https://x.test/credits" });
  expect(linked.html).toContain('<a href="https://x.test/credits">Pay for it now</a>');
  expect(linked.text).not.toContain("Credits page");
  const unusable = renderMail("auto_topup_failed", { name: null, packName: "Starter", payUrl: "ftp://x.test/credits" });
  expect(unusable.html).not.toContain("<a ");
  expect(unusable.text).toContain("You can buy credits on the Credits page.");
});

// The pack no longer sold in the chosen currency (caps16 finding 3): said plainly, nothing charged,
// and the link goes to /account to choose another pack, not to the pack or to paying now.
it("the auto top-up mail for a pack no longer sold says so and links to choosing another pack", () => {
  const mail = renderMail("auto_topup_failed", {
    name: null,
    packName: "Starter",
    currency: "eur",
    reason: "price_unavailable",
    payUrl: "https://x.test/account",
  });
  expect(mail.subject).toBe("Your automatic top-up did not go through: choose another pack");
  expect(mail.text).toContain(
    "Starter, the pack you chose for automatic top-ups, is no longer sold in EUR, so we charged nothing.",
  );
  expect(mail.text).toContain("Choose another pack: https://x.test/account");
  expect(mail.html).toContain('<a href="https://x.test/account">Choose another pack</a>');
  expect(`${mail.text}${mail.html}`).not.toMatch(/Pay for it now|could not charge/);
});
