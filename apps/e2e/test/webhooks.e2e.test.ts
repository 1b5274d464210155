import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, test } from "vitest";
import { createUser, launchBrowser, logInThroughPage, newPage, screenshot, startWebServer } from "./harness.ts";

const server = await startWebServer({
  OUTBOUND_WEBHOOKS_ALLOW_PRIVATE: "true",
  WEBHOOK_WORKER_ENABLED: "true",
  WEBHOOK_POLL_INTERVAL_MS: "50",
  WEBHOOK_RETRY_BASE_MS: "50",
  WEBHOOK_RETRY_MAX_MS: "100",
  ADMIN_APPROVAL_THRESHOLD: "10",
});
const browser = await launchBrowser();

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

describe("admin: webhooks", () => {
  test("an endpoint registered in the panel, its delivery log with each attempt, and a replay", async () => {
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
    await context.close();
  });
});
