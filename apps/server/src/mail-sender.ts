import type { MailDispatcher } from "@credits/core";
import type { Env } from "@credits/env";
import { reportError } from "@credits/observability";

// Each instance sends due mail every MAIL_POLL_INTERVAL_MS; instances share the queue (claims
// skip each other's rows), one pass at a time per instance.
export function startMailSender(env: Env, mail: MailDispatcher) {
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = mail
      .runOnce()
      .catch((error) => reportError(error, { where: "job", route: "mail" }))
      .finally(() => {
        running = null;
      });
  }, env.MAIL_POLL_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
