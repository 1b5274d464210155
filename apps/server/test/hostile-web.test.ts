// A hostile client against the real server serving the built web app in production mode: each
// finding of issue 12 that concerns the HTTP edge, reproduced, then refused.
import { rateLimits } from "@credits/db/schema";
import { describe, expect, it } from "vitest";
import { testDb } from "./harness.ts";
import { meStatus, PASSWORD, postForm, postLargeBody, signUp, startWebServer } from "./hostile-web-helpers.ts";

const server = await startWebServer("production");
const base = server.url;
const EVIL = "http://evil.example";
const MIB = 1_048_576;

const sameOrigin = (location: string | null) => location !== null && new URL(location, base).origin === base;

describe("redirect targets from input", () => {
  const bypasses = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "//evil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "data:text/html,hi",
    "/@evil.example",
    "http://user@evil.example",
    "/\u3000/evil.example",
    "/\uff0f\uff0fevil.example",
    " //evil.example",
  ];

  it("a signed-in visit to /login?redirectTo=/%09/evil.example stays on this site", async () => {
    const user = await signUp(base);
    const reply = await fetch(`${base}/login?redirectTo=/%09/evil.example`, {
      redirect: "manual",
      headers: { cookie: user.cookie },
    });
    expect(reply.status).toBe(302);
    expect(sameOrigin(reply.headers.get("location")), reply.headers.get("location") ?? "").toBe(true);
  });

  it.each(bypasses)("log-in and sign-up with redirectTo %j land on this site", async (redirectTo) => {
    const user = await signUp(base);
    const login = await postForm(
      base,
      "/login",
      { email: user.email, password: PASSWORD, redirectTo },
      { origin: base },
    );
    expect(login.status).toBe(302);
    expect(sameOrigin(login.headers.get("location")), login.headers.get("location") ?? "").toBe(true);
    const email = `hostile-redirect-${crypto.randomUUID()}@example.test`;
    const signup = await postForm(base, "/signup", { email, password: PASSWORD, redirectTo }, { origin: base });
    expect(signup.status).toBe(302);
    expect(sameOrigin(signup.headers.get("location")), signup.headers.get("location") ?? "").toBe(true);
  });

  it("a same-site path survives the guard", async () => {
    const user = await signUp(base);
    const fields = { email: user.email, password: PASSWORD, redirectTo: "/credits/history?kind=spend" };
    const login = await postForm(base, "/login", fields, { origin: base });
    expect(login.headers.get("location")).toBe("/credits/history?kind=spend");
  });
});

describe("body limits on every route", () => {
  it.each([false, true])("a 20 MiB form to /login is a 413 before it is read (chunked: %s)", async (chunked) => {
    expect(await postLargeBody(`${base}/login`, 20 * MIB, { chunked, headers: { origin: base } })).toBe(413);
  });

  it("the Stripe webhook keeps its own 1 MiB cap (a 200 KiB body is read, not refused)", async () => {
    expect(await postLargeBody(`${base}/webhooks/stripe`, 200 * 1024, { chunked: false })).toBe(400);
    expect(await postLargeBody(`${base}/webhooks/stripe`, 2 * MIB, { chunked: true })).toBe(413);
  });
});

describe("cross-site requests that set or clear the session cookie", () => {
  it("a cross-site log-out is refused and the cookie is kept (API and web form)", async () => {
    const user = await signUp(base);
    for (const path of ["/api/v1/auth/logout", "/trpc/auth.logOut", "/api/v1/auth/logout-everywhere"]) {
      // SameSite=Lax: a cross-site POST arrives without the cookie; it must still not clear it.
      const reply = await fetch(`${base}${path}`, { method: "POST", headers: { origin: EVIL } });
      expect(reply.status, path).toBe(403);
      expect(reply.headers.getSetCookie(), path).toEqual([]);
    }
    const crossSiteHeaders: Record<string, string>[] = [
      { origin: EVIL },
      { "sec-fetch-site": "cross-site" },
      { origin: "null" },
    ];
    for (const headers of crossSiteHeaders) {
      const web = await postForm(base, "/logout", {}, { ...headers, cookie: user.cookie });
      expect(web.status).toBe(403);
      expect(web.headers.getSetCookie()).toEqual([]);
    }
    expect(await meStatus(base, user.cookie)).toBe(200);
  });

  it("a same-origin form with a forged X-Forwarded-Host is answered, never a 500 (Remix's own check)", async () => {
    const user = await signUp(base);
    const fields = { email: user.email, password: PASSWORD };
    const reply = await postForm(base, "/login", fields, { origin: base, "x-forwarded-host": "evil.example" });
    expect(reply.status).toBe(302);
  });

  it("a cross-site log-in or sign-up is refused (login CSRF), with no cookie set", async () => {
    const user = await signUp(base);
    const json = { "content-type": "application/json", origin: EVIL };
    const api = await fetch(`${base}/api/v1/auth/login`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ email: user.email, password: PASSWORD }),
    });
    expect(api.status).toBe(403);
    expect(api.headers.getSetCookie()).toEqual([]);
    for (const path of ["/login", "/signup"]) {
      const email = path === "/login" ? user.email : `hostile-csrf-${crypto.randomUUID()}@example.test`;
      const web = await postForm(base, path, { email, password: PASSWORD }, { origin: EVIL });
      expect(web.status, path).toBe(403);
      expect(web.headers.getSetCookie(), path).toEqual([]);
    }
  });
});

describe("tRPC batches", () => {
  it("one unauthenticated batch of 900 log-ins is refused whole: no log-in, no rate-limit write", async () => {
    const before = await testDb.db.$count(rateLimits);
    const calls = Array.from({ length: 900 }, (_, i) => [
      String(i),
      { email: `batch-${i}-${crypto.randomUUID()}@example.test`, password: "wrong password" },
    ]);
    const paths = Array.from({ length: 900 }, () => "auth.logIn").join(",");
    const reply = await fetch(`${base}/trpc/${paths}?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(Object.fromEntries(calls)),
    });
    expect(reply.status).toBe(400);
    expect(await testDb.db.$count(rateLimits)).toBe(before);
  });
});

describe("response headers in production", () => {
  const nonceOf = (csp: string | null) => /'nonce-([^']+)'/.exec(csp ?? "")?.[1];

  it("pages: nosniff, HSTS, a CSP whose nonce is on every script, never framed; signed-in pages not stored", async () => {
    const user = await signUp(base);
    const nonces = new Set<string>();
    for (const [path, cookie] of [
      ["/login", ""],
      ["/credits", user.cookie],
      ["/account", user.cookie],
    ] as const) {
      const reply = await fetch(`${base}${path}`, { headers: cookie ? { cookie } : {} });
      expect(reply.status, path).toBe(200);
      const csp = reply.headers.get("content-security-policy");
      expect(csp, path).toMatch(/frame-ancestors 'none'/);
      expect(csp, path).toMatch(/default-src 'self'/);
      expect(csp, path).toMatch(/object-src 'none'/);
      expect(csp, path).toMatch(/base-uri 'none'/);
      expect(csp, path).not.toMatch(/script-src[^;]*'unsafe-inline'/);
      const nonce = nonceOf(csp);
      expect(nonce, path).toMatch(/^[\w+/=-]{16,}$/);
      nonces.add(nonce ?? "");
      const html = await reply.text();
      const scripts = html.match(/<script\b[^>]*>/g) ?? [];
      expect(scripts.length, path).toBeGreaterThan(0);
      for (const tag of scripts) expect(tag, path).toContain(`nonce="${nonce}"`);
      expect(reply.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(reply.headers.get("x-frame-options"), path).toBe("DENY");
      expect(reply.headers.get("strict-transport-security"), path).toMatch(/^max-age=\d{8,}/);
      if (cookie) expect(reply.headers.get("cache-control"), path).toBe("no-store");
    }
    expect(nonces.size).toBe(3);
  });

  it("API answers (the JSON export included) are never stored; every answer says nosniff", async () => {
    const user = await signUp(base);
    for (const path of ["/api/v1/me", "/api/v1/gdpr/export", "/trpc/auth.me", "/api/v1/packages", "/api/v1/nope"]) {
      const reply = await fetch(`${base}${path}`, { headers: { cookie: user.cookie } });
      expect(reply.headers.get("cache-control"), path).toBe("no-store");
      expect(reply.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(reply.headers.get("strict-transport-security"), path).toMatch(/^max-age=/);
    }
    const exported = await fetch(`${base}/account/export`, { headers: { cookie: user.cookie } });
    expect(exported.status).toBe(200);
    expect(exported.headers.get("cache-control")).toBe("no-store");
    for (const path of ["/healthz", "/api/v1/openapi.json", "/no-such-page"]) {
      expect((await fetch(`${base}${path}`)).headers.get("x-content-type-options"), path).toBe("nosniff");
    }
  });
});

describe("the local test checkout", () => {
  async function openCheckout() {
    const user = await signUp(base);
    const packs = (await (await fetch(`${base}/api/v1/packages`)).json()) as { packages: { id: string }[] };
    const reply = await fetch(`${base}/api/v1/checkout`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: user.cookie },
      body: JSON.stringify({ packageId: packs.packages[0]?.id }),
    });
    expect(reply.status).toBe(201);
    const { paymentId, checkoutUrl } = (await reply.json()) as { paymentId: string; checkoutUrl: string };
    return { user, paymentId, path: new URL(checkoutUrl).pathname };
  }
  const paymentStatus = async (user: { cookie: string }, paymentId: string) =>
    (
      (await (await fetch(`${base}/api/v1/payments/${paymentId}`, { headers: { cookie: user.cookie } })).json()) as {
        status: string;
      }
    ).status;

  it("is never framed", async () => {
    const { path } = await openCheckout();
    const page = await fetch(`${base}${path}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
  });

  it("refuses a cross-site Pay (403, nothing paid); our own page's Pay works", async () => {
    const { user, paymentId, path } = await openCheckout();
    for (const headers of [{ origin: EVIL }, { "sec-fetch-site": "cross-site" }, { origin: "null" }]) {
      const reply = await fetch(`${base}${path}/pay`, { method: "POST", redirect: "manual", headers });
      expect(reply.status).toBe(403);
    }
    expect(await paymentStatus(user, paymentId)).not.toBe("paid");
    const own = await fetch(`${base}${path}/pay`, { method: "POST", redirect: "manual", headers: { origin: base } });
    expect(own.status).toBe(303);
    expect(await paymentStatus(user, paymentId)).toBe("paid");
  });
});
