import { testDb } from "@credits/db/test-setup";
import { plantLedgerBreak } from "@credits/db/testing";
import { describe, expect, test } from "vitest";
import { buyThroughLocalCheckout, docsScreenshot, logInThroughPage, newPage, screenshot, startE2e } from "./harness.ts";

const { server, browser, createUser } = await startE2e();

// Shared across the tests of this file, in order: the adjustment, then the pages that show it.
const people = {
  requester: await createUser("admin-one", "admin"),
  approver: await createUser("admin-two", "admin"),
  customer: await createUser("customer", "user"),
};

describe("admin", () => {
  test("a large adjustment waits for a second admin, who approves it; the user sees the new balance", async () => {
    // The customer buys a pack first (the dashboard then has a purchase and revenue to draw).
    const customer = await newPage(browser, server.url);
    await logInThroughPage(customer.page, people.customer.email);
    await buyThroughLocalCheckout(customer.page, "Starter");
    expect(await customer.page.getByTestId("balance").textContent()).toBe("100 credits");

    // The first admin finds the customer and asks for 20,000 credits: above the threshold.
    const first = await newPage(browser, server.url);
    await logInThroughPage(first.page, people.requester.email);
    await first.page.goto("/admin/users");
    await first.page.getByLabel("Email or user id").fill(people.customer.email);
    await first.page.getByRole("button", { name: "Search" }).click();
    await first.page.getByRole("link", { name: people.customer.email }).click();
    await first.page.waitForURL(`**/admin/users/${people.customer.id}`);
    expect(await first.page.getByTestId("user-balance").textContent()).toBe("100 credits");

    // A reason is required; the error sits next to its field.
    const adjust = first.page.getByRole("form", { name: "Adjust the balance" });
    await adjust.getByLabel("Amount (credits)").fill("20000");
    await first.page.locator("#field-reason").evaluate((input) => input.removeAttribute("required"));
    await first.page.getByRole("button", { name: "Adjust balance" }).click();
    await first.page.getByText("Say why: the reason is kept in the audit log", { exact: false }).waitFor();
    expect(await adjust.getByLabel("Reason").getAttribute("aria-invalid")).toBe("true");

    await adjust.getByLabel("Amount (credits)").fill("20000");
    await adjust.getByLabel("Reason").fill("Enterprise contract, order 4711");
    await first.page.getByRole("button", { name: "Adjust balance" }).click();
    await first.page.getByText("Waiting for approval").waitFor();
    expect(await first.page.getByTestId("user-balance").textContent()).toBe("100 credits");

    // A small one applies at once.
    await adjust.getByLabel("Amount (credits)").fill("50");
    await adjust.getByLabel("Reason").fill("Goodwill for the outage");
    await first.page.getByRole("button", { name: "Adjust balance" }).click();
    await first.page.getByText("Adjustment applied").waitFor();
    await first.page.getByText("The new balance is 150 credits.").waitFor();

    // The requester sees their own request, without the buttons.
    await first.page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Approvals" }).click();
    await first.page.waitForURL("**/admin/approvals");
    const own = first.page.getByTestId("approval");
    await expect.poll(() => own.count()).toBe(1);
    await own.getByText("Waiting for another admin").waitFor();
    expect(await own.getByRole("button", { name: /Approve/ }).count()).toBe(0);
    // Posting the decision anyway is refused by the API.
    const [pendingRequest] = await server.services.admin.pendingApprovals();
    const approvalId = pendingRequest?.id ?? "";
    const refused = await first.page.request.post("/admin/approvals", {
      form: { intent: "approve", id: approvalId },
      headers: { Origin: server.url },
      maxRedirects: 0,
    });
    expect(refused.status()).toBe(403);

    // The second admin approves it.
    const second = await newPage(browser, server.url);
    await logInThroughPage(second.page, people.approver.email);
    await second.page.goto("/admin/approvals");
    const item = second.page.getByTestId("approval");
    await item.getByText("Enterprise contract, order 4711", { exact: false }).waitFor();
    await docsScreenshot(second.page, "admin-approvals");
    await item.getByRole("button", { name: /^Approve/ }).click();
    await second.page.getByText("Adjustment approved").waitFor();
    await second.page.getByText("the new balance is 20,150 credits", { exact: false }).waitFor();
    await second.page.getByText("Nothing to decide").waitFor();

    // The customer sees it.
    await customer.page.goto("/credits");
    expect(await customer.page.getByTestId("balance").textContent()).toBe("20,150 credits");

    // The user's page for admins: balance, ledger, payments.
    await second.page.goto(`/admin/users/${people.customer.id}`);
    expect(await second.page.getByTestId("user-balance").textContent()).toBe("20,150 credits");
    expect(
      await second.page
        .getByRole("table", { name: /^Ledger of/ })
        .getByRole("row")
        .count(),
    ).toBe(4); // header + 3
    await second.page.getByRole("region", { name: "Payments" }).getByText("$5.00 · 100 credits").waitFor();
    await docsScreenshot(second.page, "admin-user");

    for (const { context } of [customer, first, second]) await context.close();
  });

  test("the audit log lists the adjustment, and filters by target and action", async () => {
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, people.approver.email);
    await page.goto("/admin/audit");
    await page.getByLabel("Target user (email or id)").fill(people.customer.email);
    await page.getByLabel("Action").selectOption("adjustment_approved");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/action=adjustment_approved/);
    const rows = page.getByRole("table").getByRole("row");
    await expect.poll(() => rows.count()).toBe(2);
    const cells = rows.nth(1).getByRole("cell");
    expect(await cells.nth(1).textContent()).toBe("Adjustment approved");
    expect(await cells.nth(2).textContent()).toBe(people.approver.email);
    expect(await cells.nth(3).textContent()).toBe(people.customer.email);
    expect(await cells.nth(4).textContent()).toContain("+20,000");

    // Everything about the customer: requested, approved, and the small one applied directly.
    await page.goto(`/admin/audit?target=${encodeURIComponent(people.customer.email)}`);
    await expect.poll(() => rows.count()).toBe(4);
    // An unknown person: the error is next to the field.
    await page.goto("/admin/audit?actor=nobody%40example.com");
    await page.getByText("No user has this email or id.").waitFor();
    expect(await page.getByLabel("Actor (email or id)").getAttribute("aria-invalid")).toBe("true");
    await context.close();
  });

  test("the dashboard draws its charts, with the figures for screen readers", async () => {
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, people.approver.email);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
    await page.waitForURL("**/admin");
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    const credits = page.getByTestId("chart-credits").getByRole("img");
    expect(await credits.getAttribute("aria-label")).toContain("Purchased: 100; Spent: 0; Adjusted: 20,050");
    expect(await page.getByTestId("chart-credits").locator("rect").count()).toBeGreaterThanOrEqual(2);
    const revenue = page.getByTestId("chart-revenue").getByRole("img");
    expect(await revenue.getAttribute("aria-label")).toContain("USD: $5.00");
    // Booked by purchase day (ADR 012): a late refund moves a past day, and the page says so.
    expect(await page.getByTestId("chart-revenue").textContent()).toContain("by purchase day");
    expect(await page.getByText("Revenue (by purchase day)", { exact: true }).count()).toBe(1);
    expect(await page.getByRole("table", { name: "Credits per day: figures per day" }).getByRole("row").count()).toBe(
      31,
    );
    await docsScreenshot(page, "admin-dashboard");

    // Run now: a run page with its findings (none here).
    await page.getByRole("link", { name: "Runs and findings" }).click();
    await page.getByRole("button", { name: "Run now" }).click();
    await page.waitForURL(/\/admin\/reconciliation\/[0-9a-f-]{36}$/);
    await page.getByRole("heading", { name: "Findings" }).waitFor();
    await page.getByRole("link", { name: "← All runs" }).click();
    await page.getByText("manual", { exact: true }).first().waitFor();

    // The API keys moved to their own page.
    await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "API keys" }).click();
    await page.waitForURL("**/admin/api-keys");
    await page.getByText("No API keys yet").waitFor();
    await context.close();
  });

  test("at phone width the admin pages fit the screen", async () => {
    const { context, page } = await newPage(browser, server.url, { viewport: { width: 390, height: 844 } });
    await logInThroughPage(page, people.approver.email);
    for (const [path, name] of [
      ["/admin", "admin-dashboard-phone"],
      [`/admin/users/${people.customer.id}`, "admin-user-phone"],
    ] as const) {
      await page.goto(path);
      // Nothing wider than the viewport (the sub-navigation scrolls inside itself).
      expect(await page.evaluate<number>("document.documentElement.scrollWidth"), path).toBeLessThanOrEqual(390);
      await screenshot(page, name);
    }
    await context.close();
  });

  test("a plain user gets a 403 on every admin page", async () => {
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, people.customer.email);
    for (const path of ["/admin/users", `/admin/users/${people.customer.id}`, "/admin/approvals", "/admin/audit"]) {
      const response = await page.goto(path);
      expect(response?.status(), path).toBe(403);
    }
    await context.close();
  });

  test("a break in a ledger: the run reports it, another admin acknowledges it, the next run does not", async () => {
    // An admin whose own ledger breaks, and a user whose ledger breaks twice (+2, then -2).
    const admin = await createUser("admin-broken", "admin");
    const own = await plantLedgerBreak(testDb.db, admin.id);
    const other = await plantLedgerBreak(testDb.db);
    const [first, second] = other.seqs;

    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, admin.email);
    const runNow = async () => {
      await page.goto("/admin/reconciliation");
      await page.getByRole("button", { name: "Run now" }).click();
      await page.waitForURL(/\/admin\/reconciliation\/[0-9a-f-]{36}$/);
      await page.getByRole("heading", { name: "Findings" }).waitFor();
    };
    const findingOf = (userId: string) =>
      page.getByRole("listitem").filter({ has: page.getByRole("link", { name: `User ${userId}` }) });
    const acknowledge = async (userId: string, seq: number, reason: string) => {
      const field = findingOf(userId).getByLabel(`Acknowledge the break at row ${seq}`);
      await field.evaluate((input) => input.removeAttribute("required"));
      await field.fill(reason);
      await findingOf(userId).getByRole("button", { name: "Acknowledge" }).click();
    };
    await runNow();
    expect(await findingOf(own.userId).count()).toBe(1);

    // No reason, or one with a control character: the field says so; never on one's own ledger.
    await acknowledge(other.userId, first, "   ");
    await page.getByText("Say why the break is accepted", { exact: false }).waitFor();
    await acknowledge(other.userId, first, "restored\u0007from backup");
    await page.getByText("must not contain control characters", { exact: false }).waitFor();
    await acknowledge(own.userId, own.seq, "Looks fine to me");
    await page.getByText("A break in your own ledger must be acknowledged by another admin.").waitFor();

    // "Acknowledged", not "Already acknowledged": none of the refused attempts recorded one.
    await acknowledge(other.userId, first, "Restored from the backup of 3 March");
    await page.getByText(`Acknowledged: the break at row ${first} is no longer reported.`).waitFor();
    await screenshot(page, "admin-ledger-break-acknowledged");

    // The next run reports the user's later break (and the admin's own) only; once that one is
    // acknowledged too, the user is not reported any more.
    await runNow();
    expect(await findingOf(own.userId).count()).toBe(1);
    await acknowledge(other.userId, second, "The same restore, second row");
    await page.getByText(`Acknowledged: the break at row ${second} is no longer reported.`).waitFor();
    await runNow();
    expect(await findingOf(own.userId).count()).toBe(1);
    expect(await findingOf(other.userId).count()).toBe(0);

    // A break of 20,000 credits, above what one admin may accept (10,000): this admin's
    // acknowledgement waits for a second admin, who sees it on the run page and accepts it.
    const large = await plantLedgerBreak(testDb.db, undefined, 20_000);
    await runNow();
    await acknowledge(large.userId, large.seq, "Restored from the backup of 3 March");
    await page.getByText("Sent to a second admin", { exact: false }).waitFor();
    await runNow();
    await findingOf(large.userId).getByText("it waits for a second admin", { exact: false }).waitFor();
    await context.close();

    const approver = await newPage(browser, server.url);
    await logInThroughPage(approver.page, people.approver.email);
    await approver.page.goto(page.url());
    const finding = approver.page
      .getByRole("listitem")
      .filter({ has: approver.page.getByRole("link", { name: `User ${large.userId}` }) });
    await finding.getByText(`Acknowledged by ${admin.email}`, { exact: false }).waitFor();
    await finding.getByLabel(`Acknowledge the break at row ${large.seq}`).fill("Checked the backup");
    await finding.getByRole("button", { name: "Acknowledge" }).click();
    await approver.page.getByText(`Acknowledged: the break at row ${large.seq} is no longer reported.`).waitFor();
    await screenshot(approver.page, "admin-ledger-break-second-admin");
    await approver.context.close();
  });
});
