import { appendFileSync } from "node:fs";
import { captureLogs } from "@credits/observability";
import { afterAll, inject } from "vitest";

// Runs in every test process of the unit project: captures what the process logs (at info, in
// memory, written nowhere else) and, after the file's own hooks (so a server's last lines are in),
// appends it to the run's log file, which observability.global-setup.ts scans at the end.
const file = inject("observabilityLogFile");
if (file) {
  const capture = captureLogs("info");
  afterAll(() => {
    if (capture.lines.length > 0) appendFileSync(file, capture.lines.join(""));
    capture.stop();
  });
}
