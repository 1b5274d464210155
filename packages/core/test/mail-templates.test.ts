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
