import type { Clock, ReconciliationRun, ReconciliationService } from "@credits/core";
import { createDatabase, type Database } from "@credits/db";
import { reconciliationRuns } from "@credits/db/schema";
import { parseEnv } from "@credits/env";
import { createLocalProvider } from "@credits/stripe";
import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { createReconciliationScheduler, type SchedulerLog, type SchedulerTick } from "../src/scheduler.ts";
import { createServices } from "../src/services.ts";
import { startTestServer, testDb } from "./harness.ts";

// The daily run is claimed by inserting its row (scheduled_for unique): however many instances
// tick at the same moment, one runs it. On PostgreSQL the second instance has its own pool, as a
// second server would; on PGlite both share the one embedded database of the one process.

const { db } = testDb;
const PUBLIC_URL = "http://localhost:3000";
const other = testDb.url ? createDatabase({ url: testDb.url, poolMax: 5 }) : null;
afterAll(() => other?.close());

let nowMs = Date.parse("2030-03-01T02:59:00Z");
const clock: Clock = { now: () => new Date(nowMs) };
const logged: Parameters<SchedulerLog>[0][] = [];
const log: SchedulerLog = (entry) => logged.push(entry);

function servicesOn(database: Database) {
  return createServices(parseEnv({ NODE_ENV: "test", PUBLIC_URL }), {
    db: database,
    clock,
    provider: createLocalProvider({ publicUrl: PUBLIC_URL, clock }),
  });
}

const runsFor = (day: string) => db.select().from(reconciliationRuns).where(eq(reconciliationRuns.scheduledFor, day));

async function until<T>(probe: () => Promise<T | null | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const outcomes = (ticks: SchedulerTick[]) => ticks.map((tick) => tick.outcome).sort();

describe("reconciliation scheduler: one run a day across instances", () => {
  const first = createReconciliationScheduler({
    reconciliation: servicesOn(db).reconciliation,
    timeOfDay: "03:00",
    clock,
    log,
  });
  const second = createReconciliationScheduler({
    reconciliation: servicesOn(other?.db ?? db).reconciliation,
    timeOfDay: "03:00",
    clock,
    log,
  });
  afterAll(() => Promise.all([first.close(), second.close()]));

  it("does nothing before the time of day", async () => {
    nowMs = Date.parse("2030-03-01T02:59:59Z");
    expect(outcomes(await Promise.all([first.tick(), second.tick()]))).toEqual(["not_due", "not_due"]);
    expect(await runsFor("2030-03-01")).toEqual([]);
  });

  it("runs each day's reconciliation exactly once when two instances tick at the same moment", async () => {
    for (let day = 1; day <= 5; day++) {
      const date = `2030-03-0${day}`;
      nowMs = Date.parse(`${date}T03:00:00Z`) + day * 1_000;
      const ticks = await Promise.all([first.tick(), second.tick()]);
      expect(outcomes(ticks)).toEqual(["claimed_elsewhere", "ran"]);
      const rows = await runsFor(date);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ trigger: "schedule", status: "succeeded" });
      expect(rows[0]?.windowEnd).toEqual(new Date(nowMs));
      expect(rows[0]?.windowStart).toEqual(new Date(nowMs - 3 * 86_400_000));
      // Later ticks that day (every minute) are answered from memory.
      nowMs += 60_000;
      expect(outcomes(await Promise.all([first.tick(), second.tick()]))).toEqual(["done_today", "done_today"]);
      expect(await runsFor(date)).toHaveLength(1);
    }
    expect(logged.filter((entry) => entry.level === "error")).toEqual([]);
  });

  it("runs today's reconciliation at once when an instance starts after the time of day", async () => {
    nowMs = Date.parse("2030-03-10T17:45:00Z");
    const late = createReconciliationScheduler({
      reconciliation: servicesOn(db).reconciliation,
      timeOfDay: "03:00",
      clock,
      checkIntervalMs: 10,
      log,
    });
    late.start();
    const [row] = await until(async () => {
      const rows = await runsFor("2030-03-10");
      return rows[0]?.status === "succeeded" ? rows : null;
    });
    expect(row?.trigger).toBe("schedule");
    // Many more timer ticks later, still the one run.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await late.close();
    expect(await runsFor("2030-03-10")).toHaveLength(1);
    expect(await late.tick()).toEqual({ outcome: "closed" });
  });
});

describe("reconciliation scheduler: shutdown", () => {
  const fakeRun = { id: "00000000-0000-4000-8000-000000000000" } as ReconciliationRun;

  it("waits for a running reconciliation before closing", async () => {
    nowMs = Date.parse("2030-04-01T04:00:00Z");
    let finished = false;
    const scheduler = createReconciliationScheduler({
      reconciliation: {
        run: () =>
          new Promise((resolve) =>
            setTimeout(() => {
              finished = true;
              resolve(fakeRun);
            }, 150),
          ),
      },
      timeOfDay: "03:00",
      clock,
      log,
    });
    const tick = scheduler.tick();
    expect(await scheduler.tick()).toEqual({ outcome: "busy" });
    await scheduler.close();
    expect(finished).toBe(true);
    expect((await tick).outcome).toBe("ran");
  });

  it("stops a reconciliation that outlasts the close timeout", async () => {
    nowMs = Date.parse("2030-04-02T04:00:00Z");
    let aborted = false;
    const run: ReconciliationService["run"] = ({ signal }) =>
      new Promise((_, reject) => {
        signal?.addEventListener("abort", () => {
          aborted = true;
          reject(new Error("reconciliation aborted (shutting down)"));
        });
      });
    const errors: string[] = [];
    const scheduler = createReconciliationScheduler({
      reconciliation: { run },
      timeOfDay: "03:00",
      clock,
      closeTimeoutMs: 50,
      log: (entry) => {
        if (entry.level === "error") errors.push(entry.message);
      },
    });
    const tick = scheduler.tick();
    const started = performance.now();
    await scheduler.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(aborted).toBe(true);
    expect(await tick).toMatchObject({ outcome: "failed", day: "2030-04-02" });
    expect(errors).toEqual(["reconciliation still running after 50 ms: stopping it", "reconciliation failed"]);
  });

  it("records a run stopped by its signal as failed", async () => {
    const { reconciliation } = servicesOn(db);
    await expect(reconciliation.run({ trigger: "manual", signal: AbortSignal.abort() })).rejects.toThrow(/aborted/);
    const { runs } = await reconciliation.listRuns({ limit: 1 });
    expect(runs[0]).toMatchObject({
      trigger: "manual",
      status: "failed",
      stats: { error: expect.stringMatching(/aborted/) },
    });
  });
});

describe("reconciliation scheduler: the server", () => {
  it("refuses a schedule that is not a time of day", () => {
    expect(() => parseEnv({ RECONCILE_SCHEDULE: "3am" })).toThrow(/RECONCILE_SCHEDULE/);
    expect(() => parseEnv({ RECONCILE_SCHEDULE: "24:00" })).toThrow(/RECONCILE_SCHEDULE/);
    expect(() => parseEnv({ RECONCILE_WINDOW_DAYS: "0" })).toThrow(/RECONCILE_WINDOW_DAYS/);
    expect(parseEnv({ NODE_ENV: "test" })).toMatchObject({ RECONCILE_SCHEDULE: "03:00", RECONCILE_WINDOW_DAYS: 3 });
  });

  it("runs no reconciliation under test unless enabled, and today's once enabled", async () => {
    const today = new Date().toISOString().slice(0, 10);
    await startTestServer({ RECONCILE_SCHEDULE: "00:00" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await runsFor(today)).toEqual([]);

    const enabled = await startTestServer({
      RECONCILE_ENABLED: "true",
      RECONCILE_SCHEDULE: "00:00",
      RECONCILE_WINDOW_DAYS: "2",
    });
    const [row] = await until(async () => {
      const rows = await runsFor(today);
      return rows[0]?.status === "succeeded" ? rows : null;
    });
    expect(row?.trigger).toBe("schedule");
    if (!row) throw new Error("no run");
    expect(row.windowEnd.getTime() - row.windowStart.getTime()).toBe(2 * 86_400_000);
    expect(enabled.services.reconciliation.windowDays).toBe(2);
  });
});
