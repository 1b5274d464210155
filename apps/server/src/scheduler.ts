import { type Clock, type ReconciliationRun, type ReconciliationService, systemClock } from "@credits/core";

// The daily reconciliation, in-process: every instance checks each minute whether today's run
// (at a UTC time of day) is due, and tries to claim it. The claim is the run's row with the day
// as its unique scheduled_for, so however many instances tick at once, one runs it. Works the
// same on PGlite (one process) and PostgreSQL (many).

export const RECONCILE_CHECK_INTERVAL_MS = 60_000;
// After the close timeout the run is told to stop and gets this long to record itself as failed.
const ABORT_GRACE_MS = 2_000;

export type SchedulerTick =
  | { outcome: "not_due" }
  // Today's run was started, or found claimed, by this instance earlier.
  | { outcome: "done_today"; day: string }
  | { outcome: "busy" }
  | { outcome: "closed" }
  | { outcome: "claimed_elsewhere"; day: string }
  | { outcome: "ran"; day: string; run: ReconciliationRun }
  | { outcome: "failed"; day: string; error: string };

export interface ReconciliationScheduler {
  start(): void;
  // One check; the timer calls it, tests call it directly.
  tick(): Promise<SchedulerTick>;
  // Stops the timer and waits for a running reconciliation (up to closeTimeoutMs, then stops it).
  close(): Promise<void>;
}

export type SchedulerLog = (entry: { level: "info" | "error"; message: string } & Record<string, unknown>) => void;

const defaultLog: SchedulerLog = (entry) => {
  const line = JSON.stringify({ job: "reconciliation", ...entry });
  if (entry.level === "error") console.error(line);
  else console.log(line);
};

export function parseTimeOfDay(value: string): { hours: number; minutes: number } {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value);
  if (!match?.[1] || !match[2]) throw new Error(`invalid time of day "${value}": expected HH:MM (UTC)`);
  return { hours: Number(match[1]), minutes: Number(match[2]) };
}

export function createReconciliationScheduler(options: {
  reconciliation: Pick<ReconciliationService, "run">;
  // UTC, HH:MM.
  timeOfDay: string;
  clock?: Clock;
  checkIntervalMs?: number;
  closeTimeoutMs?: number;
  log?: SchedulerLog;
}): ReconciliationScheduler {
  const { hours, minutes } = parseTimeOfDay(options.timeOfDay);
  const clock = options.clock ?? systemClock;
  const checkIntervalMs = options.checkIntervalMs ?? RECONCILE_CHECK_INTERVAL_MS;
  const closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  const log = options.log ?? defaultLog;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<SchedulerTick> | null = null;
  let handledDay: string | null = null;
  let closed = false;

  async function runFor(day: string): Promise<SchedulerTick> {
    try {
      const run = await options.reconciliation.run({ trigger: "schedule", scheduledFor: day, signal: abort.signal });
      handledDay = day;
      if (!run) return { outcome: "claimed_elsewhere", day };
      log({ level: "info", message: "reconciliation finished", day, runId: run.id, stats: run.stats });
      return { outcome: "ran", day, run };
    } catch (error) {
      // Not marked handled: if the failure came before the claim, the next tick tries again; if
      // after, the next tick finds the day claimed. Either way a later run's window covers it.
      const message = error instanceof Error ? error.message : String(error);
      log({ level: "error", message: "reconciliation failed", day, error: message });
      return { outcome: "failed", day, error: message };
    }
  }

  async function tick(): Promise<SchedulerTick> {
    if (closed) return { outcome: "closed" };
    if (running) return { outcome: "busy" };
    const now = clock.now();
    const day = now.toISOString().slice(0, 10);
    const due = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hours, minutes);
    if (now.getTime() < due) return { outcome: "not_due" };
    if (handledDay === day) return { outcome: "done_today", day };
    running = runFor(day);
    try {
      return await running;
    } finally {
      running = null;
    }
  }

  const scheduled = () => {
    void tick();
  };

  return {
    start() {
      if (timer || closed) return;
      // A first look right away: an instance started after the time of day runs today's run now.
      setTimeout(scheduled, 0).unref();
      timer = setInterval(scheduled, checkIntervalMs);
      timer.unref();
    },
    tick,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      const inFlight = running;
      if (!inFlight) return;
      if (await settlesWithin(inFlight, closeTimeoutMs)) return;
      log({ level: "error", message: `reconciliation still running after ${closeTimeoutMs} ms: stopping it` });
      abort.abort();
      await settlesWithin(inFlight, ABORT_GRACE_MS);
    },
  };
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timeout: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timeout = setTimeout(resolve, ms, false);
    timeout.unref();
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timeout);
  }
}
