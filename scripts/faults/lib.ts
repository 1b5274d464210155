// Shared by the fault scenarios: fresh databases, server child processes, HTTP calls, signed
// Stripe events, and the ledger checks.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { createDatabase, seedDefaults } from "@credits/db";
import { parseEnv, env as settings } from "@credits/env";
import { createServices } from "@credits/server/services";
import {
  randomStripeId,
  type ServedStripeApi,
  type StripeJson,
  signedWebhook,
  stripeEvent,
} from "@credits/stripe/testing";
import postgres, { type Sql } from "postgres";

export type { Sql };

export const PG = settings.FAULTS_PG_URL;
export const WEBHOOK_SECRET = "whsec_faults";
export const PASSWORD = "correct horse battery";
const ENTRY = new URL("./server-entry.ts", import.meta.url).pathname;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)] as T;
export const rand = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

export function sqlClient(url: string, max = 4): Sql {
  return postgres(url, { max, onnotice: () => {}, idle_timeout: 5, connect_timeout: 5 });
}

export async function freshDatabase(label: string): Promise<{ name: string; url: string }> {
  const name = `faults_${Date.now()}_${label}`;
  const admin = sqlClient(`${PG}/postgres`, 1);
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 2 });
  }
  return { name, url: `${PG}/${name}` };
}

export async function dropDatabase(name: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const admin = sqlClient(`${PG}/postgres`, 1);
    try {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch {
      await sleep(500);
    } finally {
      await admin.end({ timeout: 2 }).catch(() => {});
    }
  }
}

// Creates the schema and the default packs before servers start (they would too; this way three
// instances do not all race the first migration), plus an admin user.
export async function prepareDatabase(url: string): Promise<{ adminEmail: string }> {
  const database = createDatabase({ url, poolMax: 2 });
  try {
    await database.migrate();
    await seedDefaults(database.db);
    // The local payment provider (no Stripe key): this only creates a user.
    const services = createServices(parseEnv({ NODE_ENV: "test" }), { db: database.db });
    const adminEmail = `admin-${randomUUID()}@faults.test`;
    await services.auth.createUser({ email: adminEmail, password: PASSWORD, role: "admin" });
    return { adminEmail };
  } finally {
    await database.close();
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ServerProcess {
  url: string;
  port: number;
  alive: boolean;
  start(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

// A server child process on a fixed port (a restart comes back on the same one).
export async function serverProcess(
  databaseUrl: string,
  stripe: ServedStripeApi | null,
  extraEnv: Record<string, string> = {},
): Promise<ServerProcess> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  let stderr = "";
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/root",
    NODE_ENV: "test",
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MAX: "10",
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    AUTH_RATE_LIMIT_PER_MINUTE: "1000000",
    CHECKOUT_RATE_LIMIT_PER_MINUTE: "10000",
    STRIPE_SECRET_KEY: "sk_test_faults",
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_BASE: stripe?.base ?? "http://127.0.0.1:9",
    SHUTDOWN_TIMEOUT_MS: "2000",
    // The scenarios fund their buyers with API key grants of up to 1,000,000 credits, which
    // above the threshold would only file requests for a second admin.
    ADMIN_APPROVAL_THRESHOLD: "1000000",
    ...extraEnv,
  };
  const handle: ServerProcess = {
    url: `http://127.0.0.1:${port}`,
    port,
    alive: false,
    async start() {
      stderr = "";
      const proc = spawn(process.execPath, [ENTRY], {
        env: childEnv as NodeJS.ProcessEnv,
        stdio: ["ignore", "pipe", "pipe"],
      });
      child = proc;
      proc.stderr?.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
        if (settings.FAULTS_VERBOSE) process.stderr.write(`[server ${port}] ${chunk}`);
      });
      await new Promise<void>((resolve, reject) => {
        let out = "";
        // Generous: three processes importing the server at once on a loaded 2-core machine.
        const timer = setTimeout(() => reject(new Error(`server on ${port} did not start: ${stderr}`)), 90_000);
        proc.stdout?.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes("READY ")) {
            clearTimeout(timer);
            resolve();
          }
        });
        proc.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`server on ${port} exited (${code}) before it was ready: ${stderr}`));
        });
      });
      handle.alive = true;
      proc.once("exit", () => {
        if (child === proc) handle.alive = false;
      });
    },
    async kill() {
      const proc = child;
      if (!proc || proc.exitCode !== null) return;
      handle.alive = false;
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGKILL");
      await exited;
    },
    async stop() {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      handle.alive = false;
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  await handle.start();
  return handle;
}

export interface Reply {
  status: number; // 0: no HTTP answer (connection refused or reset, timeout)
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, read field by field
  body: any;
  headers: Headers | null;
}

export async function http(
  base: string,
  method: string,
  path: string,
  options: {
    body?: unknown;
    raw?: string;
    cookie?: string;
    key?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined || options.raw !== undefined) {
    headers["content-type"] = "application/json";
    body = options.raw ?? JSON.stringify(options.body);
  }
  if (options.cookie) headers.cookie = options.cookie;
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === "" ? null : JSON.parse(text);
    } catch {}
    return { status: response.status, body: parsed, headers: response.headers };
  } catch {
    return { status: 0, body: null, headers: null };
  }
}

export const ok = (reply: Reply) => reply.status >= 200 && reply.status < 300;

export async function login(base: string, email: string): Promise<string> {
  const reply = await http(base, "POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } });
  if (reply.status !== 200) throw new Error(`admin login: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.headers?.getSetCookie()[0]?.split(";")[0] ?? "";
}

export async function apiKey(base: string, adminCookie: string): Promise<string> {
  const reply = await http(base, "POST", "/api/v1/admin/api-keys", {
    cookie: adminCookie,
    body: { name: "faults", scopes: ["credits:read", "credits:spend", "credits:grant"] },
  });
  if (!ok(reply)) throw new Error(`api key: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.key;
}

export async function signUp(base: string): Promise<{ id: string; cookie: string }> {
  const email = `buyer-${randomUUID()}@faults.test`;
  const reply = await http(base, "POST", "/api/v1/auth/signup", { body: { email, password: PASSWORD } });
  if (reply.status !== 201) throw new Error(`signup: ${reply.status} ${JSON.stringify(reply.body)}`);
  return { id: reply.body.user.id, cookie: reply.headers?.getSetCookie()[0]?.split(";")[0] ?? "" };
}

export async function packageIds(base: string): Promise<string[]> {
  const reply = await http(base, "GET", "/api/v1/packages");
  return (reply.body.packages as { id: string }[]).map((p) => p.id);
}

// Stripe's checkout.session.completed for a session the fake Stripe created, paid.
export function completedEvent(stripe: ServedStripeApi, sessionId: string): StripeJson {
  const session = stripe.mock.sessions.get(sessionId);
  if (!session) throw new Error(`the Stripe mock holds no session ${sessionId}`);
  return stripeEvent("checkout.session.completed", {
    ...session,
    url: null,
    status: "complete",
    payment_status: "paid",
    payment_intent: randomStripeId("pi"),
  });
}

// Delivers an event (signed now, as Stripe signs each attempt).
export function deliver(base: string, event: StripeJson, timeoutMs = 15_000): Promise<Reply> {
  const { body, signature } = signedWebhook(event, WEBHOOK_SECRET);
  return http(base, "POST", "/webhooks/stripe", { raw: body, headers: { "stripe-signature": signature }, timeoutMs });
}

// A purchase started through POST /api/v1/checkout (the server asks the fake Stripe for the session).
export async function checkout(base: string, cookie: string, packageId: string, stripe: ServedStripeApi) {
  const reply = await http(base, "POST", "/api/v1/checkout", { cookie, body: { packageId } });
  if (reply.status !== 201) return { reply, paymentId: null, event: null };
  const sessionId = String(reply.body.checkoutUrl).split("/").at(-1) ?? "";
  return { reply, paymentId: String(reply.body.paymentId), event: completedEvent(stripe, sessionId) };
}

export interface LedgerFigures {
  users: number;
  ledgerRows: number;
  purchaseRows: number;
  paymentsPaid: number;
  paymentsWithTwoPurchases: number;
  paidWithoutPurchase: number;
  balanceMismatches: number;
  negativeWithoutDispute: number;
}

export async function ledgerFigures(sql: Sql): Promise<LedgerFigures> {
  const [row] = await sql<LedgerFigures[]>`
    SELECT
      (SELECT count(*)::int FROM users) AS "users",
      (SELECT count(*)::int FROM credit_transactions) AS "ledgerRows",
      (SELECT count(*)::int FROM credit_transactions WHERE kind = 'purchase') AS "purchaseRows",
      (SELECT count(*)::int FROM payments WHERE status = 'paid') AS "paymentsPaid",
      (SELECT count(*)::int FROM (SELECT payment_id FROM credit_transactions WHERE kind = 'purchase'
         GROUP BY payment_id HAVING count(*) > 1) t) AS "paymentsWithTwoPurchases",
      (SELECT count(*)::int FROM payments p WHERE p.status = 'paid' AND NOT EXISTS
         (SELECT 1 FROM credit_transactions c WHERE c.payment_id = p.id AND c.kind = 'purchase')) AS "paidWithoutPurchase",
      (SELECT count(*)::int FROM users u WHERE u.credits_balance <>
         COALESCE((SELECT sum(amount) FROM credit_transactions c WHERE c.user_id = u.id), 0)) AS "balanceMismatches",
      (SELECT count(*)::int FROM users WHERE credits_balance < 0 AND disputed_at IS NULL) AS "negativeWithoutDispute"`;
  if (!row) throw new Error("no figures");
  return row;
}

// Purchase ledger rows per payment, for the payments given.
export async function purchaseRowsPer(sql: Sql, paymentIds: string[]): Promise<Map<string, number>> {
  const rows = await sql<{ id: string; n: number }[]>`
    SELECT p.id::text AS id, count(c.id)::int AS n FROM payments p
    LEFT JOIN credit_transactions c ON c.payment_id = p.id AND c.kind = 'purchase'
    WHERE p.id = ANY(${paymentIds}::uuid[]) GROUP BY p.id`;
  return new Map(rows.map((r) => [r.id, r.n]));
}

export class Checks {
  failed: string[] = [];
  passed = 0;
  readonly scenario: string;
  constructor(scenario: string) {
    this.scenario = scenario;
  }
  check(ok: boolean, what: string, detail = "") {
    if (ok) this.passed++;
    else this.failed.push(`${what}${detail ? `: ${detail}` : ""}`);
    console.log(`  ${ok ? "ok  " : "FAIL"} ${what}${detail ? ` (${detail})` : ""}`);
  }
  get ok() {
    return this.failed.length === 0;
  }
  get name() {
    return this.scenario;
  }
}

export function ledgerChecks(checks: Checks, figures: LedgerFigures) {
  checks.check(
    figures.paymentsWithTwoPurchases === 0,
    "no payment credited twice",
    `${figures.paymentsWithTwoPurchases} doubled`,
  );
  checks.check(
    figures.paidWithoutPurchase === 0,
    "every paid payment credited",
    `${figures.paidWithoutPurchase} paid without a purchase row`,
  );
  checks.check(
    figures.balanceMismatches === 0,
    "balance = sum(ledger) for every user",
    `${figures.balanceMismatches} mismatches of ${figures.users} users`,
  );
  checks.check(
    figures.negativeWithoutDispute === 0,
    "no negative balance without a dispute",
    `${figures.negativeWithoutDispute} negative`,
  );
}
