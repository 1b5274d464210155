import { mkdirSync, rmSync } from "node:fs";
import { RECORDINGS_DIR } from "./recordings.ts";

// A run starts with no recordings: the contract test checks this run's answers only.
export default function setup() {
  rmSync(RECORDINGS_DIR, { recursive: true, force: true });
  mkdirSync(RECORDINGS_DIR, { recursive: true });
}
