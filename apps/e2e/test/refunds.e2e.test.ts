// Refunds from the admin panel with the local provider: a partial refund below the approval
// threshold is sent at once (credits taken back, the balance and the refund list updated, the
// user's history says so; hostile amounts and a double submit change nothing extra); a refund
// above it waits for a second admin, who approves it on the approvals page.
import type { Page } from "playwright-core";
import { describe, expect, test } from "vitest";
import { buyThroughLocalCheckout, docsScreenshot, logInThroughPage, newPage, screenshot, startE2e } from "./harness.ts";

// $1.50 and less is refunded at once; more waits for a second admin.
const { server, browser, createUser } = await startE2e({ ADMIN_REFUND_APPROVAL_MINOR: "usd:150" });

const people = {
  first: await createUser("refund-admin-one", "admin"),
  second: await createUser("refund-admin-two", "admin"),
  customer: await createUser("refund-customer", "user"),
};

const refundsOf = async (userId: string) => {
  const [payment] = await server.services.payments.listPayments(userId);
  return server.services.refunds.refundsOf(payment ? [payment.id] : []);
};

// The one payment's card on the admin's user page, its refund form opened.
async function openRefundForm(page: Page) {
  const payment = page.getByTestId("payment");
  if ((await payment.locator("details[open]").count()) === 0) await payment.getByText("Refund…").click();
  return { payment, form: payment.getByRole("form", { name: /^Refund / }) };
}

async function refundPartly(page: Page, amount: string, reason: string) {
  const { form } = await openRefundForm(page);
  await form.getByLabel("Partial", { exact: true }).check();
  await form.getByLabel(/^Amount \(USD/).fill(amount);
  await form.getByLabel("Reason").fill(reason);
  await form.getByRole("button", { name: "Refund" }).click();
}

describe("refunds from the admin panel", () => {
  test("a partial refund below the threshold: sent at once, credits taken back, listed, and in the user's history", async () => {
    const customer = await newPage(browser, server.url);
    await logInThroughPage(customer.page, people.customer.email);
    await buyThroughLocalCheckout(customer.page, "Starter");
    expect(await customer.page.getByTestId("balance").textContent()).toBe("100 credits");

    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, people.first.email);
    await page.goto(`/admin/users/${people.customer.id}`);
    const amounts = page.getByTestId("payment-amounts");
    expect(await amounts.locator("dd").allTextContents()).toEqual(["$5.00", "$0.00", "$5.00"]);

    // Hostile amounts: each says what to type, and nothing is refunded.
    for (const [typed, message] of [
      ["1e9", "Enter an amount in USD with digits and at most one decimal point"],
      ["-1", "Enter a positive amount"],
      ["0.001", "USD amounts have at most 2 decimals."],
      ["10", "At most $5.00 is left to refund."],
    ]) {
      await refundPartly(page, typed ?? "", "Charged twice");
      await page.getByText(message ?? "", { exact: false }).waitFor();
    }
    expect(await refundsOf(people.customer.id)).toHaveLength(0);

    await refundPartly(page, "1.00", "Charged twice");
    // Read as the page shows it with "Refund sent", without reloading: the answer and the balance
    // it took credits from appear together.
    await page.getByText("Refund sent").waitFor();
    expect(await page.getByTestId("user-balance").textContent()).toBe("80 credits");
    expect(await amounts.locator("dd").allTextContents()).toEqual(["$5.00", "$1.00", "$4.00"]);
    const listed = page.getByTestId("refund");
    await listed.getByText("Succeeded").waitFor();
    await listed.getByText("Requested by you", { exact: false }).waitFor();

    // The same rendering of the form sent twice (a double submit, a resent POST): one refund.
    const { form } = await openRefundForm(page);
    const key = await form.locator('input[name="idempotencyKey"]').inputValue();
    const paymentId = (await refundsOf(people.customer.id))[0]?.paymentId ?? "";
    const post = () =>
      page.request.post(`/admin/users/${people.customer.id}`, {
        form: { intent: "refund", paymentId, scope: "partial", amount: "0.50", reason: "Twice", idempotencyKey: key },
        headers: { Origin: server.url },
      });
    const twice = [await post(), await post()];
    expect(twice.map((r) => r.status())).toEqual([200, 200]);
    expect((await refundsOf(people.customer.id)).map((r) => r.amountMinor)).toEqual([50, 100]);
    await page.reload();
    expect(await page.getByTestId("user-balance").textContent()).toBe("70 credits");
    expect(await amounts.locator("dd").allTextContents()).toEqual(["$5.00", "$1.50", "$3.50"]);

    await customer.page.goto("/credits/history");
    const refundRows = customer.page.getByRole("row").filter({ hasText: "Refund of" });
    await expect.poll(() => refundRows.count()).toBe(2);
    await refundRows.filter({ hasText: "Refund of $1.00 of your $5.00 payment" }).getByText("−20").waitFor();
    await refundRows.filter({ hasText: "Refund of $0.50 of your $5.00 payment" }).getByText("−10").waitFor();
    await screenshot(customer.page, "history-refund");
    await customer.context.close();
    await context.close();
  });

  test("above the threshold the refund waits; the requester cannot approve it, a second admin does", async () => {
    const first = await newPage(browser, server.url);
    await logInThroughPage(first.page, people.first.email);
    await first.page.goto(`/admin/users/${people.customer.id}`);
    const { form } = await openRefundForm(first.page);
    await form.getByLabel(/^Full: \$3\.50/).check();
    await form.getByLabel("Reason").fill("Service never delivered");
    await form.getByRole("button", { name: "Refund" }).click();
    await first.page.getByText("Waiting for approval").waitFor();
    await first.page.getByTestId("refund").getByText("Pending approval").waitFor();
    expect(await first.page.getByTestId("user-balance").textContent()).toBe("70 credits");
    expect(await first.page.getByTestId("payment-amounts").locator("dd").allTextContents()).toEqual([
      "$5.00",
      "$1.50",
      "$0.00",
    ]);

    // The requester sees it without buttons; a decision posted anyway is refused, and says why.
    await first.page.goto("/admin/approvals");
    const own = first.page.getByTestId("refund-approval");
    await own.getByText("Waiting for another admin").waitFor();
    expect(await own.getByRole("button").count()).toBe(0);
    const [pending] = await server.services.refunds.pendingRefunds();
    await first.page.evaluate((id) => {
      const form = document.createElement("form");
      form.method = "post";
      for (const [name, value] of Object.entries({ kind: "refund", intent: "approve", id })) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    }, pending?.id ?? "");
    await first.page.getByText("You requested this refund, or its money goes to you", { exact: false }).waitFor();
    expect((await server.services.refunds.pendingRefunds()).map((r) => r.id)).toEqual([pending?.id]);

    const second = await newPage(browser, server.url);
    await logInThroughPage(second.page, people.second.email);
    await second.page.goto("/admin/approvals");
    const item = second.page.getByTestId("refund-approval");
    await item.getByText("Service never delivered", { exact: false }).waitFor();
    await item.getByRole("link", { name: people.customer.email }).waitFor();
    await docsScreenshot(second.page, "admin-approvals-refund");
    await item.getByRole("button", { name: `Approve the refund of $3.50 to ${people.customer.email}` }).click();
    await second.page.getByText("Refund approved").waitFor();
    await second.page.getByText("No refunds to decide").waitFor();

    await second.page.goto(`/admin/users/${people.customer.id}`);
    expect(await second.page.getByTestId("user-balance").textContent()).toBe("0 credits");
    expect(await second.page.getByTestId("payment-amounts").locator("dd").allTextContents()).toEqual([
      "$5.00",
      "$5.00",
      "$0.00",
    ]);
    const approved = second.page.getByTestId("refund").filter({ hasText: "Service never delivered" });
    await approved.getByText("Succeeded").waitFor();
    await approved.getByText(`Requested by ${people.first.email}`, { exact: false }).waitFor();
    await approved.getByText("approved by you", { exact: false }).waitFor();
    // Nothing is left: no form.
    expect(await second.page.getByText("Refund…").count()).toBe(0);
    await docsScreenshot(second.page, "admin-refunds");
    for (const { context } of [first, second]) await context.close();
  });
});
