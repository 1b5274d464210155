import type { MailDispatcher } from "@credits/core";
import type { Env } from "@credits/env";
import { reportError } from "@credits/observability";

// Passes after a failed one wait longer (the database or the relay is down), up to this.
export const MAIL_BACKOFF_MAX_MS = 60_000;

// How long to wait before the next pass after `failures` failed passes in a row: the poll
// interval, doubled per failure up to MAIL_BACKOFF_MAX_MS (never below the interval).
export function mailPollDelayMs(intervalMs: number, failures: number): number {
  return Math.max(intervalMs, Math.min(intervalMs * 2 ** Math.min(failures, 20), MAIL_BACKOFF_MAX_MS));
}

// The mail sender's own loop, apart from the webhook worker's and the schedules: each instance
// sends due mail every MAIL_POLL_INTERVAL_MS, one pass at a time; instances share the queue
// (claims skip each other's rows). A pass that fails (not a mail: the dispatcher retries those
// itself) is reported and the loop backs off.
export function startMailSender(env: Env, mail: Pick<MailDispatcher, "runOnce">) {
  let failures = 0;
  let stopped = false;
  let running: Promise<unknown> | null = null;
  let timer: ReturnType<typeof setTimeout>;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(pass, mailPollDelayMs(env.MAIL_POLL_INTERVAL_MS, failures));
    timer.unref();
  };
  const pass = () => {
    running = mail
      .runOnce()
      .then(() => {
        failures = 0;
      })
      .catch((error) => {
        failures += 1;
        reportError(error, { where: "job", route: "mail" });
      })
      .finally(() => {
        running = null;
        schedule();
      });
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
