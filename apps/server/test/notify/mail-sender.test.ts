import type { Env } from "@credits/env";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAIL_BACKOFF_MAX_MS, mailPollDelayMs, startMailSender } from "../../src/mail-sender.ts";

// The mail sender's own poll loop: one pass per interval, backing off while passes fail.
afterEach(() => {
  vi.useRealTimers();
});

describe("mail sender loop", () => {
  it("doubles the wait after each failed pass, up to the cap, and returns to the interval", () => {
    expect([0, 1, 2, 3].map((failures) => mailPollDelayMs(100, failures))).toEqual([100, 200, 400, 800]);
    expect(mailPollDelayMs(2_000, 10)).toBe(MAIL_BACKOFF_MAX_MS);
    expect(mailPollDelayMs(2_000, 1_000)).toBe(MAIL_BACKOFF_MAX_MS);
    expect(mailPollDelayMs(120_000, 3)).toBe(120_000);
  });

  it("polls on its own timer, backs off while the pass fails, one pass at a time", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let calls = 0;
    let open = 0;
    const sender = startMailSender({ MAIL_POLL_INTERVAL_MS: 100 } as Env, {
      runOnce: async () => {
        calls += 1;
        open += 1;
        expect(open).toBe(1);
        await new Promise((resolve) => setTimeout(resolve, 50));
        open -= 1;
        if (calls <= 2) throw new Error("database unreachable");
        return 0;
      },
    });
    const at = async (ms: number, expected: number) => {
      await vi.advanceTimersByTimeAsync(ms);
      expect(calls).toBe(expected);
    };
    await at(99, 0);
    await at(1, 1); // fails at 150; next after 200
    await at(249, 1);
    await at(1, 2); // fails at 400; next after 400
    await at(449, 2);
    await at(1, 3); // succeeds at 850; next after 100
    await at(149, 3);
    await at(1, 4);
    // Stopping waits for the pass under way, and no pass starts after it.
    const stopping = sender.stop();
    await vi.advanceTimersByTimeAsync(50);
    await stopping;
    await at(10_000, 4);
  });
});
