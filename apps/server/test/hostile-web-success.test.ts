// The checkout success page against hostile or merely impatient visitors, through the real server
// serving the built web app: it polls checkout.confirm, which shares the per-user checkout limit
// (each call asks the payment provider), and its session id comes from the address bar.
import { describe, expect, it } from "vitest";
import { signUp, startWebServer } from "./hostile-web-helpers.ts";

const server = await startWebServer("production", { CHECKOUT_RATE_LIMIT_PER_MINUTE: "3" });
const base = server.url;

async function startCheckout(cookie: string): Promise<string> {
  const { packages } = (await (await fetch(`${base}/api/v1/packages`)).json()) as { packages: { id: string }[] };
  const reply = await fetch(`${base}/api/v1/checkout`, {
    method: "POST",
    headers: { cookie, "content-type": "application/json" },
    body: JSON.stringify({ packageId: packages[0]?.id }),
  });
  expect(reply.status).toBe(201);
  const { checkoutUrl } = (await reply.json()) as { checkoutUrl: string };
  return checkoutUrl.split("/").at(-1) ?? "";
}

const successPage = (cookie: string, query: string) =>
  fetch(`${base}/credits/success?${query}`, { headers: { cookie } });

describe("the checkout success page", () => {
  it("keeps saying 'processing' once its polls use up the checkout limit, never an error page", async () => {
    const user = await signUp(base);
    const sessionId = await startCheckout(user.cookie);
    const statuses: number[] = [];
    for (let poll = 0; poll < 5; poll++) {
      const page = await successPage(user.cookie, `session_id=${encodeURIComponent(sessionId)}`);
      statuses.push(page.status);
      expect(await page.text()).toContain("Processing your payment");
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
  });

  it("a session id that is not acceptable text names no checkout: 404, not 500", async () => {
    const user = await signUp(base);
    for (const query of ["session_id=%00cs_test", "session_id=%E2%80%AEcs_test"]) {
      const page = await successPage(user.cookie, query);
      expect(page.status).toBe(404);
      expect(await page.text()).toContain("find this checkout");
    }
  });
});
