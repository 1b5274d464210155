import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

// Every log line of the unit run is scanned at its end: no line may carry an email, a Stripe or
// webhook secret, an API key, a session token, a password, a password hash, the hash of an API
// key or session, or a setup token past the one line that announces it. Each test process captures what its
// logger writes (observability.setup.ts, at info level) and appends it to one file; this global
// teardown, in vitest's main process, reads the file. A leak fails the run and names the lines.
// (Only the in-process servers' lines: a test that spawns a server process reads its own output.)

declare module "vitest" {
  export interface ProvidedContext {
    observabilityLogFile: string;
  }
}

export const LEAK_PATTERNS: [string, RegExp][] = [
  ["email", /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/],
  ["stripe secret key", /\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]/],
  ["webhook secret", /\bwhsec_[A-Za-z0-9]/],
  ["api key", /\bck_[a-z2-7]{16,}/],
  ["session cookie", /\bsession=(?!\[redacted\])[^;\s"]+/i],
  // A token is 32 base32 characters; trace and span ids are hex, so a match must hold a letter
  // past "f" (a real token lacks one with odds of 1 in 10^16).
  ["session token", /(?<![\w-])(?=[a-z2-7]*[g-z])[a-z2-7]{32}(?![\w-])/],
  ["password field", /"password"\s*:\s*"(?!\[redacted\])/i],
  // Stored password hashes: ours (`scrypt$N$r$p$salt$hash`) and the PHC form of argon2.
  ["password hash", /scrypt\$\d+\$\d+\$\d+\$|\$argon2(?:id|i|d)\$/],
  // API key hashes and session ids are SHA-256 in hex: 64 hex digits standing alone. Trace ids
  // (32) and span ids (16) are shorter, and a longer hex run is not matched; pnpm's patch hashes
  // in a stack's file paths (`patch_hash=…`) are the one 64-hex value that may be logged.
  ["key or session hash", /(?<![\w-])(?<!patch_hash=)[0-9a-f]{64}(?![\w-])/],
  ["test password", /correct horse battery|a long password/i],
];

// The first-admin setup token is printed once, by the start-up line that announces it; any other
// line holding one (the same token again, or a token in another message) is a leak.
const SETUP_TOKEN = /\bsetup_[a-z2-7]{32}\b/;
const SETUP_ANNOUNCEMENT = "no admin yet: open ";

export function findLeaks(lines: string[]): { kind: string; line: string }[] {
  const leaks: { kind: string; line: string }[] = [];
  const announced = new Set<string>();
  for (const line of lines) {
    for (const [kind, pattern] of LEAK_PATTERNS) if (pattern.test(line)) leaks.push({ kind, line });
    const token = SETUP_TOKEN.exec(line)?.[0];
    if (!token) continue;
    if (line.includes(SETUP_ANNOUNCEMENT) && !announced.has(token)) announced.add(token);
    else leaks.push({ kind: "setup token", line });
  }
  return leaks;
}

export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "credits-test-logs-"));
  const file = join(dir, "unit.ndjson");
  project.provide("observabilityLogFile", file);
  return () => {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      // Nothing was logged.
    }
    const lines = text.split("\n").filter(Boolean);
    const leaks = findLeaks(lines);
    if (leaks.length === 0) {
      rmSync(dir, { recursive: true, force: true });
      console.log(`log scan: ${lines.length} log lines from the whole run, no secret or personal data found`);
      return;
    }
    const shown = leaks.slice(0, 10).map((leak) => `  ${leak.kind}: ${leak.line.slice(0, 300)}`);
    throw new Error(`log scan: ${leaks.length} leaks in ${file}:\n${shown.join("\n")}`);
  };
}
