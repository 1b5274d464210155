// pnpm openapi:update rewrites docs/openapi/v1.json (and its types, v1.d.ts) from the code;
// pnpm openapi:check fails on any difference, and names the breaking ones (.ci/run runs it;
// scripts/test/openapi-compat.test.ts runs the same check in pnpm test).
import { openApiDocument } from "@credits/api";
import {
  COMMITTED_DOCUMENT,
  COMMITTED_TYPES,
  checkCommitted,
  DOCUMENT_BASE_URL,
  readCommitted,
  readCommittedTypes,
  typesOf,
  writeCommitted,
  writeCommittedTypes,
} from "./openapi-compat.ts";

// As JSON: the generator leaves undefined fields, which the committed file cannot hold.
const current = JSON.parse(JSON.stringify(openApiDocument(DOCUMENT_BASE_URL)));
const command = process.argv[2];
if (command === "update") {
  writeCommitted(current);
  await writeCommittedTypes(readCommitted());
  console.log(`wrote ${COMMITTED_DOCUMENT} and ${COMMITTED_TYPES}`);
} else if (command === "check") {
  const committed = readCommitted();
  const result = checkCommitted(committed, current, {
    committed: readCommittedTypes(),
    current: await typesOf(committed),
  });
  for (const line of result.lines) (result.ok ? console.log : console.error)(line);
  if (!result.ok) process.exit(1);
} else {
  console.error("usage: openapi.ts update|check");
  process.exit(2);
}
