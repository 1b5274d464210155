import { describe, expect, test } from "vitest";
import { logInThroughPage, newPage, screenshot, startE2e } from "./harness.ts";

const { server, browser, createUser } = await startE2e();

describe("packs: made in the admin panel, bought in the currency the buyer picks", () => {
  test("an admin creates a pack priced in yen and dinars, a second approves it; a customer buys it in dinars; archived, it is off sale", async () => {
    const admin = await createUser("pack-admin", "admin");
    const customer = await createUser("pack-customer", "user");
    const name = `Yen pack ${Date.now().toString(36)}`;

    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, admin.email);
    await page.goto("/admin/packages");
    const create = page.getByRole("form", { name: "Create a pack" });
    await create.getByLabel("Name").fill(name);
    await create.getByLabel("Credits", { exact: true }).fill("250");
    // Three decimals for a dinar at most: a fourth is refused, with the reason.
    await create.getByLabel("Prices").fill("jpy 700\nkwd 1.2555");
    await create.getByRole("button", { name: "Create pack" }).click();
    await page.getByText("KWD amounts have 3 decimals at most").waitFor();

    await create.getByLabel("Prices").fill("jpy 700\nkwd 1.250");
    await create.getByLabel("Show as “Best value”").check();
    await create.getByRole("button", { name: "Create pack" }).click();
    // No pack on sale is priced in yen or dinars: this one waits for a second admin (ADR 015), and
    // its creator gets no Approve button.
    const awaiting = page.getByRole("region", { name: /Awaiting approval/ }).getByRole("listitem");
    await awaiting.filter({ hasText: name }).getByText("another admin must approve it").waitFor();
    expect(await page.getByRole("button", { name: `Approve ${name}` }).count()).toBe(0);
    await screenshot(page, "admin-packs-awaiting");
    const approver = await createUser("pack-approver", "admin");
    const second = await newPage(browser, server.url);
    await logInThroughPage(second.page, approver.email);
    await second.page.goto("/admin/packages");
    await second.page.getByRole("button", { name: `Approve ${name}` }).click();
    const listed = second.page.getByRole("listitem").filter({ hasText: name });
    await listed.getByText(`Edit ${name}`).waitFor();
    await listed.getByText("250 credits · ¥700 · KWD\u00a01.250").waitFor();
    await screenshot(second.page, "admin-packs");
    await second.context.close();
    const pack = (await server.services.catalog.listAll()).find((p) => p.name === name);
    expect(pack?.prices).toEqual([
      { currency: "jpy", unitAmount: 700 },
      { currency: "kwd", unitAmount: 1_250 },
    ]);
    expect(pack?.highlight).toBe(true);

    const buyer = await newPage(browser, server.url);
    await logInThroughPage(buyer.page, customer.email);
    const card = buyer.page.getByRole("listitem").filter({ hasText: name });
    await card.getByText("Best value").waitFor();
    await card.getByLabel("Pay in").selectOption("kwd");
    await screenshot(buyer.page, "buy-in-currency");
    await card.getByRole("button", { name: `Buy ${name}` }).click();
    await buyer.page.waitForURL("**/checkout/local/**");
    await buyer.page.getByRole("heading", { name: "Pay KWD\u00a01.250" }).waitFor();
    await buyer.page.getByRole("button", { name: "Pay (test)" }).click();
    await buyer.page.waitForURL("**/credits/success?session_id=**");
    await buyer.page.getByRole("heading", { name: "Payment received" }).waitFor();
    expect(await buyer.page.getByTestId("balance").textContent()).toBe("250 credits");
    const [payment] = await server.services.payments.listPayments(customer.id);
    expect(payment).toMatchObject({ amountMinor: 1_250, currency: "kwd", credits: 250, status: "paid" });

    await page.goto("/admin/packages");
    await page.getByRole("button", { name: `Archive ${name}` }).click();
    await page.getByText(`${name} · 250 credits · archived`, { exact: false }).waitFor();
    await buyer.page.goto("/credits");
    await buyer.page.getByRole("heading", { name: "Buy credits" }).waitFor();
    expect(await buyer.page.getByRole("listitem").filter({ hasText: name }).count()).toBe(0);
    await buyer.context.close();
    await context.close();
  });
});
