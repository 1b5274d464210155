// pnpm openapi:update rewrites docs/openapi/v1.json from the code; pnpm openapi:check compares them
// (scripts/test/openapi-compat.test.ts runs the same check in pnpm test).
import { openApiDocument } from "@credits/api";
import {
  COMMITTED_DOCUMENT,
  COMMITTED_TYPES,
  compare,
  DOCUMENT_BASE_URL,
  readCommitted,
  writeCommitted,
  writeCommittedTypes,
} from "./openapi-compat.ts";

const current = openApiDocument(DOCUMENT_BASE_URL);
const command = process.argv[2];
if (command === "update") {
  writeCommitted(current);
  await writeCommittedTypes(readCommitted());
  console.log(`wrote ${COMMITTED_DOCUMENT} and ${COMMITTED_TYPES}`);
} else if (command === "check") {
  const result = compare(readCommitted(), current);
  for (const change of result.breaking) console.log(`breaking: ${change}`);
  if (result.breaking.length > 0 && !result.newMajor) {
    console.error(
      `${result.breaking.length} breaking change(s) to /api/v1: keep them compatible, or make a new major version`,
    );
    process.exit(1);
  }
  if (result.additions > 0) console.log(`${result.additions} compatible change(s): run pnpm openapi:update`);
  else console.log("the committed document is up to date");
} else {
  console.error("usage: openapi.ts update|check");
  process.exit(2);
}
