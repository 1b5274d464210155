import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll } from "vitest";
import { type ObservedResponse, observeResponses } from "../../src/response-observers.ts";
import { RECORDINGS_DIR } from "./recordings.ts";

// Runs in every test process of the unit project: every answer a server of this process gives on
// a documented route is kept, and written after the file's own hooks to this process's file.
const answers: ObservedResponse[] = [];
const stop = observeResponses((answer) => answers.push(answer));
const file = join(RECORDINGS_DIR, `${process.pid}.jsonl`);
afterAll(() => {
  stop();
  if (answers.length > 0) appendFileSync(file, answers.map((a) => `${JSON.stringify(a)}\n`).join(""));
  answers.length = 0;
});
