// The grant sweep settles the payments noted after an expiry (background-jobs.ts, 0050): a server
// sweeping every second claims a note. The note names no payment here (one erased since, say):
// claimed and dropped, the next notes not held up.
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { query, startTestServer } from "./helpers.ts";

await startTestServer({ EXPIRY_SWEEP_INTERVAL_SECONDS: "1" });

it("the server's grant sweep claims the notes of the expiry settles", async () => {
  const paymentId = randomUUID();
  await query(`INSERT INTO payment_expiry_settles (payment_id) VALUES ('${paymentId}')`);
  const left = async () =>
    (
      await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM payment_expiry_settles WHERE payment_id = '${paymentId}'`,
      )
    )[0]?.n;
  await expect.poll(left, { timeout: 10_000, interval: 100 }).toBe(0);
});
