import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, test } from "vitest";
import { connectBrowser, createUser, logInThroughPage, newPage, screenshot, startWebServer } from "./harness.ts";

const server = await startWebServer({
  OUTBOUND_WEBHOOKS_ALLOW_PRIVATE: "true",
  WEBHOOK_WORKER_ENABLED: "true",
  WEBHOOK_POLL_INTERVAL_MS: "50",
  WEBHOOK_RETRY_BASE_MS: "50",
  WEBHOOK_RETRY_MAX_MS: "100",
  ADMIN_APPROVAL_THRESHOLD: "10",
});
const browser = await connectBrowser();

// A receiving service that fails once, then accepts.
const received: string[] = [];
const receiver = createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    received.push(String(request.headers["webhook-id"]));
    response.writeHead(received.length === 1 ? 500 : 200).end(received.length === 1 ? "busy" : "thanks");
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

const waitForReceived = async (count: number) => {
  for (let i = 0; i < 400 && received.length < count; i++) await new Promise((r) => setTimeout(r, 50));
  expect(received.length).toBeGreaterThanOrEqual(count);
};

describe("admin: webhooks", () => {
  test("an endpoint registered in the panel, its delivery log (paged) with each attempt, a replay, then rotated, disabled and deleted", async () => {
    const admin = await createUser(server, "hooks-admin", "admin");
    const customer = await createUser(server, "hooks-customer", "user");
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, admin.email);
    await page.goto("/admin/webhooks");
    await page.getByLabel("URL").fill("ftp://example.com/hooks");
    await page.getByRole("checkbox", { name: "adjustment.pending" }).check();
    await page.getByRole("button", { name: "Register endpoint" }).click();
    await page.getByText("url must be http or https").waitFor();

    await page.getByLabel("URL").fill(receiverUrl);
    await page.getByRole("button", { name: "Register endpoint" }).click();
    const secret = await page.getByTestId("new-webhook-secret").textContent();
    expect(secret).toMatch(/^whsec_/);

    await server.services.admin.adjust({
      actorId: admin.id,
      userId: customer.id,
      amount: 50,
      reason: "goodwill",
      idempotencyKey: randomUUID(),
    });
    for (let i = 0; i < 200 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(2);

    await page.getByRole("link", { name: "Delivery log" }).first().click();
    await page.getByRole("heading", { name: "Delivery log" }).waitFor();
    await page.getByText("succeeded").waitFor();
    const attempts = page.getByRole("table", { name: `Attempts of ${received[0]}` });
    await expect.poll(() => attempts.getByRole("row").count()).toBe(3);
    await attempts.getByRole("cell", { name: "500" }).waitFor();
    await attempts.getByRole("cell", { name: "busy" }).waitFor();
    await attempts.getByRole("cell", { name: "thanks" }).waitFor();
    await screenshot(page, "admin-webhook-deliveries");

    await page.getByRole("button", { name: `Replay ${received[0]}` }).click();
    await page.getByText("Queued again").waitFor();
    for (let i = 0; i < 200 && received.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual([received[0], received[0], received[0]]);

    // Twenty more events: the log's first page holds the twenty newest, the first event moves on.
    const adjust = () =>
      server.services.admin.adjust({
        actorId: admin.id,
        userId: customer.id,
        amount: 50,
        reason: "goodwill",
        idempotencyKey: randomUUID(),
      });
    for (let i = 0; i < 20; i++) await adjust();
    await waitForReceived(23);
    await page.reload();
    const webhookIds = page.getByText(/^webhook-id /);
    await expect.poll(() => webhookIds.count()).toBe(20);
    expect(await page.getByText(`webhook-id ${received[0]}`).count()).toBe(0);
    await page.getByRole("link", { name: "Older deliveries →" }).click();
    await page.getByText(`webhook-id ${received[0]}`).waitFor();
    expect(await webhookIds.count()).toBe(1);
    await page.getByRole("link", { name: "← Newest" }).click();
    await expect.poll(() => webhookIds.count()).toBe(20);

    // Rotate: a new secret shown once, the old one signing beside it for the overlap.
    await page.getByRole("link", { name: "← All endpoints" }).click();
    const row = page.getByRole("listitem", { name: receiverUrl });
    await row.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByText("Secret rotated").waitFor();
    const rotated = await page.getByTestId("new-webhook-secret").textContent();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    await page.getByText("The previous secret keeps signing beside it until").waitFor();
    await page.reload();
    expect(await page.getByTestId("new-webhook-secret").count()).toBe(0);

    // Disable: nothing more is delivered to it; enable; then delete, after a second confirmation.
    await row.getByRole("button", { name: "Disable" }).click();
    await row.getByText("Disabled", { exact: true }).waitFor();
    const before = received.length;
    await adjust();
    await new Promise((r) => setTimeout(r, 500));
    expect(received).toHaveLength(before);
    await row.getByRole("button", { name: "Enable" }).click();
    await row.getByText("Enabled", { exact: true }).waitFor();
    // Events while it was disabled are not sent to it; new ones are again.
    await adjust();
    await waitForReceived(before + 1);
    await row.getByText("Delete…").click();
    await screenshot(page, "admin-webhook-delete");
    await row.getByRole("button", { name: "Delete endpoint" }).click();
    await page.getByText("Endpoint deleted, with its delivery log.").waitFor();
    // The action's answer can show before the list is reloaded (the router revalidates after it).
    await expect.poll(() => page.getByRole("listitem", { name: receiverUrl }).count()).toBe(0);

    // Each change went through the API's procedures: audited, by this admin.
    const audit = await server.services.admin.auditLog({ actorId: admin.id, limit: 100 });
    const actions = audit.map((entry) => entry.action);
    for (const action of [
      "webhook_endpoint.created",
      "webhook_endpoint.secret_rotated",
      "webhook_endpoint.disabled",
      "webhook_endpoint.enabled",
      "webhook_endpoint.deleted",
    ]) {
      expect(actions).toContain(action);
    }
    await context.close();
  });
});
