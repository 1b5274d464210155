import { describe, expect, test } from "vitest";
import { logInThroughPage, newPage, screenshot, startE2e } from "./harness.ts";

const { server, browser, createUser } = await startE2e();

describe("admin: API keys and erasure", () => {
  test("a key made in the panel shows its owner and its daily limits", async () => {
    const admin = await createUser("key-admin", "admin");
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, admin.email);
    await page.goto("/admin/api-keys");
    await page.getByText("Kept in the audit log forever: name the tool, not a person.").waitFor();
    await page.getByLabel("Name").fill("support-tool");
    await page.getByRole("checkbox", { name: /credits:grant/ }).check();
    await page.getByLabel("Credits granted").fill("abc");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByText("“Credits granted” must be a whole number", { exact: false }).waitFor();

    await page.getByLabel("Credits granted").fill("5,000");
    await page.getByLabel("Grants", { exact: true }).fill("20");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByTestId("new-api-key").waitFor();
    await page.getByText(`Owner: ${admin.email}`, { exact: false }).waitFor();
    await page.getByText("Per day: 5,000 credits granted, 20 grants").waitFor();
    const [key] = await server.services.apiKeys.list({ ownerUserId: admin.id });
    expect(key?.limits).toMatchObject({ grantCreditsPerDay: 5000, grantCallsPerDay: 20 });
    await screenshot(page, "admin-api-keys-limits");
    await context.close();
  });

  test("erasing a user warns that the reason is kept forever, and takes the user's email typed exactly", async () => {
    const admin = await createUser("erase-admin", "admin");
    const customer = await createUser("erase-customer", "user");
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, admin.email);
    await page.goto(`/admin/users/${customer.id}`);
    await page.getByText("Kept in the audit log forever", { exact: false }).waitFor();
    await page.getByRole("link", { name: "Erase (GDPR)…" }).click();
    await page.waitForURL(`**/admin/users/${customer.id}/erase`);
    await page.getByText("The reason is kept forever").waitFor();
    await page.getByLabel("Reason").fill("Request by email, ticket 4711");
    const confirm = page.getByLabel("Type the user's email to confirm");
    // Without JavaScript's help too: the server requires it.
    await confirm.evaluate((input) => input.removeAttribute("required"));
    await page.getByRole("button", { name: "Erase user" }).click();
    await page.getByText("Type the user's email to confirm: this cannot be undone.").waitFor();

    // Someone else's address: refused, and nothing is erased.
    await page.getByLabel("Type the user's email to confirm").fill(admin.email);
    await page.getByRole("button", { name: "Erase user" }).click();
    await page.getByText("That is not this user's email: nothing was erased.", { exact: false }).waitFor();
    expect(await page.getByLabel("Type the user's email to confirm").getAttribute("aria-invalid")).toBe("true");
    expect((await server.services.admin.userSummary(customer.id)).erasedAt).toBeNull();
    expect(await server.services.admin.auditLog({ targetUserId: customer.id })).toEqual([]);
    await screenshot(page, "admin-erase-user");

    // The right one, in other case and with spaces around it.
    await page.getByLabel("Type the user's email to confirm").fill(`  ${customer.email.toUpperCase()} `);
    await page.getByRole("button", { name: "Erase user" }).click();
    await page.waitForURL(`**/admin/users/${customer.id}`);
    await page.getByRole("heading", { name: "Erased user" }).waitFor();
    const audit = await server.services.admin.auditLog({ targetUserId: customer.id });
    expect(audit).toEqual([
      expect.objectContaining({ action: "gdpr_erasure", actorId: admin.id, reason: "Request by email, ticket 4711" }),
    ]);
    await context.close();
  });
});
