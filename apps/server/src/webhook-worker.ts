// Runs the webhook delivery passes (and, on the same loop, the auto top-up charges) in this process: one pass at a time, again at once while
// passes find work, else after the poll interval. Every instance runs one; the claim in the
// database (FOR UPDATE SKIP LOCKED and a lease) gives each due delivery to one of them.
export function startWebhookWorker(options: {
  // One pass; `claimed` > 0 means there may be more work at once.
  webhooks: { deliverDue(): Promise<{ claimed: number }> };
  pollIntervalMs: number;
  onError: (error: unknown) => void;
}): { close(): Promise<void> } {
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  const pass = async () => {
    timer = null;
    let busy = false;
    try {
      const { claimed } = await options.webhooks.deliverDue();
      busy = claimed > 0;
    } catch (error) {
      options.onError(error);
    }
    if (!closed) schedule(busy ? 0 : options.pollIntervalMs);
  };
  const schedule = (ms: number) => {
    timer = setTimeout(() => {
      running = pass().finally(() => {
        running = null;
      });
    }, ms);
    timer.unref();
  };
  schedule(0);

  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
