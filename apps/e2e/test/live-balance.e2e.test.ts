// The live balance and the low-balance banner in the browser: a spend made through the API (on
// another server instance when PostgreSQL is there to share) updates the open page without a
// reload; setting the threshold on /account and going below it shows the banner. The page's own
// change, heard after its reload, keeps the form's result on screen.
import { randomUUID } from "node:crypto";
import { createDatabase } from "@credits/db";
import { testDb } from "@credits/db/test-setup";
import { parseEnv } from "@credits/env";
import { startServer } from "@credits/server/main";
import { afterAll, describe, expect, test } from "vitest";
import { connectBrowser, createUser, logInThroughPage, newPage, startWebServer } from "./harness.ts";

const server = await startWebServer();
const browser = await connectBrowser();

// Instance B: its own pool on the same PostgreSQL database; on PGlite (one process) the same server.
async function otherInstance(): Promise<string> {
  if (!testDb.url) return server.url;
  const database = createDatabase({ url: testDb.url, poolMax: 2 });
  const env = parseEnv({ NODE_ENV: "test", PORT: "0", HOST: "127.0.0.1", PUBLIC_URL: server.url });
  const other = await startServer(env, { database, log: () => {} });
  afterAll(async () => {
    await other.close();
    await database.close();
  });
  return other.url;
}
const spendBase = await otherInstance();

describe("live balance", () => {
  test("a spend through the API on another instance updates the header balance and the banner", async () => {
    const user = await createUser(server, "live", "user");
    const scope = { kind: "user", id: user.id } as const;
    await server.services.credits.grant({ userId: user.id, amount: 120, idempotencyKey: randomUUID(), scope });
    const { context, page } = await newPage(browser, server.url);
    // Counts the balance events each page's stream receives: the spend comes once the stream is
    // open, so its event is one the page hears (a fixed wait did not know when that was).
    await context.addInitScript(() => {
      const Original = window.EventSource;
      window.EventSource = class extends Original {
        constructor(url: string | URL, init?: EventSourceInit) {
          super(url, init);
          this.addEventListener("balance", () => {
            const seen = Number(document.documentElement.dataset.balanceEvents ?? 0);
            document.documentElement.dataset.balanceEvents = String(seen + 1);
          });
        }
      };
    });
    await logInThroughPage(page, user.email);
    await page.goto("/account");
    await page.getByLabel("Alert threshold (credits)").fill("100");
    await page.getByRole("button", { name: "Save alert" }).click();
    await expect.poll(() => page.getByLabel("Alert threshold (credits)").inputValue()).toBe("100");
    await expect.poll(() => page.getByRole("status").filter({ hasText: "alert threshold" }).count()).toBe(0);
    await page.waitForFunction(() => Number(document.documentElement.dataset.balanceEvents ?? 0) > 0);

    const cookie = (await context.cookies()).find((candidate) => candidate.name === "session");
    const reply = await fetch(`${spendBase}/api/v1/credits/spend`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: `session=${cookie?.value}` },
      body: JSON.stringify({ userId: user.id, amount: 45, idempotencyKey: randomUUID() }),
    });
    expect(reply.status).toBe(200);
    // No reload: the open page hears of it through /api/v1/me/events.
    await expect.poll(() => page.getByLabel("Balance: 75").count(), { timeout: 10_000 }).toBe(1);
    await expect
      .poll(() => page.getByRole("status").filter({ hasText: "below your alert threshold of 100" }).count())
      .toBe(1);
    await context.close();
  });

  // Remix clears a form's result (actionData) on any later reload, so reloading for an event the
  // page's data already shows took "Report ready" away again; when the event came after the
  // action's own reload (a loaded machine), the browser tests waited for it in vain.
  test('the page\'s own spend, heard after its reload, keeps "Report ready" on screen', async () => {
    const user = await createUser(server, "live-own", "user");
    const scope = { kind: "user", id: user.id } as const;
    await server.services.credits.grant({ userId: user.id, amount: 20, idempotencyKey: randomUUID(), scope });
    const { context, page } = await newPage(browser, server.url);
    // Every balance event reaches the page 1.5 s late: after the action and its reload. (A string:
    // typing an override of EventSource's overloaded addEventListener costs more than it checks.)
    await context.addInitScript(`{
      const Original = window.EventSource;
      window.EventSource = class extends Original {
        addEventListener(type, listener, options) {
          if (type !== "balance") return super.addEventListener(type, listener, options);
          super.addEventListener(type, (event) => setTimeout(() => {
            listener.call(this, event);
            const seen = Number(document.documentElement.dataset.balanceEvents ?? 0);
            document.documentElement.dataset.balanceEvents = String(seen + 1);
          }, 1500), options);
        }
      };
    }`);
    await logInThroughPage(page, user.email);
    await page.waitForFunction(() => Number(document.documentElement.dataset.balanceEvents ?? 0) > 0);
    await page.getByRole("button", { name: "Run report (5 credits)" }).click();
    await page.getByText("Report ready").waitFor();
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("15 credits");
    // The spend's own event, then whatever it started (a reload, or nothing) has finished.
    await page.waitForFunction(() => Number(document.documentElement.dataset.balanceEvents ?? 0) > 1);
    // A function, not a string: Playwright polls a string predicate with eval, which the CSP refuses.
    await page.waitForFunction(() => {
      type Router = { state: { navigation: { state: string }; revalidation: string } };
      const { state } = (window as unknown as { __remixRouter: Router }).__remixRouter;
      return state.navigation.state === "idle" && state.revalidation === "idle";
    });
    expect(await page.getByText("Report ready").count()).toBe(1);
    await context.close();
  });

  // A result shown once outlives the reload a later ledger change brings (Remix clears actionData
  // on it; the routes keep their result until the next navigation: lib/action-result.ts).
  test("a new API key, shown once, stays on screen when a grant reloads the page; gone after a navigation", async () => {
    const admin = await createUser(server, "live-key", "admin");
    const { context, page } = await newPage(browser, server.url);
    type Router = {
      state: { navigation: { state: string }; revalidation: string };
      navigate: (to: string) => Promise<void>;
    };
    // Functions, not strings: the admin pages' CSP refuses eval.
    const routerIdle = () =>
      page.waitForFunction(() => {
        const { state } = (window as unknown as { __remixRouter: Router }).__remixRouter;
        return state.navigation.state === "idle" && state.revalidation === "idle";
      });
    const shownKey = page.getByTestId("new-api-key");
    await logInThroughPage(page, admin.email);
    await page.goto("/admin/api-keys");
    await page.getByLabel("Name").fill("reporting-tool");
    await page.getByRole("checkbox", { name: /credits:read/ }).check();
    await page.getByRole("button", { name: "Create key" }).click();
    await shownKey.waitFor();
    await routerIdle();
    const key = await shownKey.textContent();
    expect(key).toMatch(/\S{20,}/);

    // A grant of 10 credits, its event's reload drawn: the header shows the new balance. Remix
    // draws a router change in a transition, after the router is idle and the URL has moved (a
    // gate read the key still there right after a navigation), and in order: once the header shows
    // this grant, the page shows every earlier change of the router too.
    const scope = { kind: "user", id: admin.id } as const;
    let balance = 0;
    const grantDrawn = async () => {
      await routerIdle();
      await server.services.credits.grant({ userId: admin.id, amount: 10, idempotencyKey: randomUUID(), scope });
      balance += 10;
      await expect.poll(() => page.getByLabel(`Balance: ${balance}`).count(), { timeout: 10_000 }).toBe(1);
      await routerIdle();
    };

    // The grant's event reloads the page's data, after the action's reload: the key stays.
    await grantDrawn();
    expect(await shownKey.count()).toBe(1);
    expect(await shownKey.textContent()).toBe(key);

    // A navigation within the same route (its component stays mounted), then Back to the entry the
    // action left: the key is not shown again.
    await page.evaluate(() =>
      (window as unknown as { __remixRouter: Router }).__remixRouter.navigate("/admin/api-keys?page=2"),
    );
    await page.waitForURL("**/admin/api-keys?page=2");
    await grantDrawn();
    expect(await shownKey.count()).toBe(0);
    await page.goBack();
    await page.waitForURL(/\/admin\/api-keys$/);
    await grantDrawn();
    expect(await shownKey.count()).toBe(0);
    await context.close();
  });

  // The history changes, the balance does not: the page still reloads (it compares the newest
  // ledger row, not the balance).
  test("a hold and its release, the balance unchanged, show up in the recent history", async () => {
    const user = await createUser(server, "live-hold", "user");
    const scope = { kind: "user", id: user.id } as const;
    await server.services.credits.grant({ userId: user.id, amount: 20, idempotencyKey: randomUUID(), scope });
    const { context, page } = await newPage(browser, server.url);
    // The events the page hears, kept where the test can read them: a gate once saw no reload
    // within 10 s (not reproduced), and a recurrence should say whether any event came.
    await context.addInitScript(`{
      const Original = window.EventSource;
      window.EventSource = class extends Original {
        constructor(url, init) {
          super(url, init);
          this.addEventListener("balance", (event) => {
            const seen = document.documentElement.dataset.balanceEvents ?? "";
            document.documentElement.dataset.balanceEvents = seen + " " + event.data;
          });
        }
      };
    }`);
    await logInThroughPage(page, user.email);
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("20 credits");
    // The stream is open (its first event heard) before the ledger changes.
    await page.waitForFunction(() => (document.documentElement.dataset.balanceEvents ?? "").length > 0);
    const { hold } = await server.services.credits.hold({
      userId: user.id,
      amount: 5,
      idempotencyKey: randomUUID(),
      scope,
    });
    await server.services.credits.release(hold.id);
    const heard = async () => {
      const events = await page.evaluate(() => document.documentElement.dataset.balanceEvents);
      const router = await page.evaluate(() => {
        const { state } = (window as unknown as { __remixRouter: { state: Record<string, unknown> } }).__remixRouter;
        return { navigation: state.navigation, revalidation: state.revalidation, root: state.loaderData };
      });
      return JSON.stringify({ events, router, release: hold.id }).slice(0, 2000);
    };
    await expect
      .poll(() => page.getByText("Hold released").count(), { timeout: 10_000, message: "no reload" })
      .toBeGreaterThan(0)
      .catch(async (error: unknown) => {
        throw new Error(`${String(error)}; the page heard: ${await heard()}`);
      });
    expect(await page.getByTestId("balance").textContent()).toBe("20 credits");
    await context.close();
  });
});
