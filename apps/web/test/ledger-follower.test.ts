// The live balance's reload rule (ledger-follower.ts). The page has two loaders (the root's newest
// row and a route's history) that read the ledger separately; the property runs them against a
// ledger that changes at any point, events that arrive late, and loads the router restarts, and
// asks that once everything is delivered and loaded, both show the newest row (the feed coalesces:
// an event names the newest row at its poll), with no more loads than changes and navigations.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { ledgerFollower } from "../app/lib/ledger-follower.ts";

describe("ledger follower", () => {
  test("an event for the row on screen loads nothing; a new row loads once", () => {
    const follower = ledgerFollower("r1");
    expect(follower.heard("r1", "r1", false)).toBe("none");
    expect(follower.heard("r2", "r1", false)).toBe("reload");
    follower.loadStarted();
    follower.loadEnded("r2");
    expect(follower.heard("r2", "r2", false)).toBe("none");
  });

  test("after a load that saw the ledger move, the next event reloads even for the row on screen", () => {
    const follower = ledgerFollower("r1");
    expect(follower.heard("hold", "r1", false)).toBe("reload");
    follower.loadStarted();
    // The history read before the release, the root loader after it.
    follower.loadEnded("release");
    expect(follower.heard("release", "release", false)).toBe("reload");
    follower.loadStarted();
    follower.loadEnded("release");
    expect(follower.heard("release", "release", false)).toBe("none");
  });

  test("the page's own action: its event reloads once more", () => {
    const follower = ledgerFollower("r1");
    follower.loadStarted();
    follower.loadEnded("spend");
    expect(follower.heard("spend", "spend", false)).toBe("reload");
    follower.loadStarted();
    follower.loadEnded("spend");
    expect(follower.heard("spend", "spend", false)).toBe("none");
  });

  test("a load that saw no move clears the mark: it read everything after the last one", () => {
    const follower = ledgerFollower("r1");
    follower.loadStarted();
    follower.loadEnded("r2");
    follower.loadStarted();
    follower.loadEnded("r2");
    expect(follower.heard("r2", "r2", false)).toBe("none");
  });

  test("an event during a load restarts it, even for the row on screen; an unreadable event reloads", () => {
    const follower = ledgerFollower("r1");
    follower.loadStarted();
    expect(follower.heard("r1", "r1", true)).toBe("reload");
    expect(follower.heard("r2", "r1", true)).toBe("reload");
    follower.loadStarted();
    // The restarted load began knowing r2 and shows it: nothing moved.
    follower.loadEnded("r2");
    expect(follower.heard("r2", "r2", false)).toBe("none");
    expect(follower.heard(undefined, "r2", false)).toBe("reload");
  });

  test("a load that ends signed out (no row, no more events) asks for nothing; an end without a start does nothing", () => {
    const follower = ledgerFollower("r1");
    follower.loadStarted();
    follower.loadEnded(null);
    follower.loadEnded("r9");
    expect(follower.heard(null, null, false)).toBe("reload");
    expect(follower.heard(null, null, false)).toBe("none");
  });

  type Step = "commit" | "deliver" | "load" | "readRoot" | "readHistory" | "end";
  const steps = fc.array(fc.constantFrom<Step>("commit", "deliver", "load", "readRoot", "readHistory", "end"), {
    maxLength: 40,
  });

  // One page: a load reads the root and the history each at its own moment; a reload asked for
  // while one runs restarts it (both reads again), as Remix's router does.
  function simulate(script: Step[]) {
    const ledger = ["r0"];
    const newest = () => ledger[ledger.length - 1] as string;
    const page = { root: "r0", history: "r0" };
    const follower = ledgerFollower(page.root);
    // The feed polls: an event names the newest row, once, whatever was committed before it.
    let sent = "r0";
    const unsent = () => sent !== newest();
    let load: { root?: string; history?: string } | null = null;
    let loads = 0;
    const start = () => {
      load = {};
      loads += 1;
      follower.loadStarted();
    };
    // A reload asked for while a load runs restarts it: both reads again.
    const ask = (step: "reload" | "none") => {
      if (step === "reload") start();
    };
    const run = (step: Step) => {
      if (step === "commit") ledger.push(`r${ledger.length}`);
      else if (step === "deliver" && unsent()) {
        sent = newest();
        ask(follower.heard(sent, page.root, load !== null));
      } else if (step === "load") {
        if (!load) start();
      } else if (step === "readRoot" && load) load.root = newest();
      else if (step === "readHistory" && load) load.history = newest();
      else if (step === "end" && load?.root !== undefined && load.history !== undefined) {
        page.root = load.root;
        page.history = load.history;
        load = null;
        follower.loadEnded(page.root);
      }
    };
    for (const step of script) run(step);
    // Everything delivered and every load finished, in either order of the two reads.
    for (let round = 0; round < 100 && (unsent() || load); round += 1) {
      for (const step of round % 2 ? (["readHistory", "readRoot"] as const) : (["readRoot", "readHistory"] as const))
        run(step);
      run("end");
      run("deliver");
    }
    return { page, newest: newest(), settled: !unsent() && !load, loads, script };
  }

  test("whatever the interleaving, the page ends showing the newest row in both loaders", () => {
    fc.assert(
      fc.property(steps, (script) => {
        const { page, newest, settled, loads } = simulate(script);
        expect(settled).toBe(true);
        expect(page).toEqual({ root: newest, history: newest });
        // Loads follow the events, not their own pace: one at most for each change to the ledger
        // (an event reloads once, and the feed sends one only after a change) and each load the
        // script began itself (a navigation's or an action's).
        const begun = script.filter((step) => step === "load").length;
        const changes = script.filter((step) => step === "commit").length;
        expect(loads).toBeLessThanOrEqual(changes + begun);
      }),
      {
        numRuns: 2_000,
        // Too long for chance to find: the ledger moves during a load and again during the load it
        // added, and the feed's next event names the root's row (found without the stale mark).
        examples: [
          [
            [
              "commit",
              "deliver",
              "readHistory",
              "commit",
              "readRoot",
              "end",
              "readHistory",
              "commit",
              "readRoot",
              "end",
            ],
          ],
        ],
      },
    );
  });
});
