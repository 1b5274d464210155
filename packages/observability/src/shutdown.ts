// The tracing preload registers how to flush its spans; the server calls shutdownTelemetry() on
// SIGTERM. Kept on globalThis: the preload and the app must share it even if a loader gave them
// different instances of this module.
const KEY = Symbol.for("credits.observability.shutdown");

type Registry = { [KEY]?: () => Promise<void> };

export function setTelemetryShutdown(shutdown: () => Promise<void>) {
  (globalThis as Registry)[KEY] = shutdown;
}

// Flushes and stops tracing when it was started; bounded, so a dead collector cannot hold up exit.
export async function shutdownTelemetry(timeoutMs = 5_000): Promise<void> {
  const shutdown = (globalThis as Registry)[KEY];
  if (!shutdown) return;
  (globalThis as Registry)[KEY] = undefined;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    shutdown().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}
