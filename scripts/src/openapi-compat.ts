import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiDiff } from "api-smart-diff";

// The committed OpenAPI document of /api/v1 (docs/openapi/v1.json) against the one the code
// produces. api-smart-diff classifies each change for a client: a removed operation or response
// field, a new required input, a narrowed input (a new bound, a removed enum value) are breaking;
// additions are not. A changed `type` anywhere is breaking too (the library counts a response
// field's new type as compatible; a client parsing it is not). Breaking changes pass only with a
// new major version (info.version, and with it the /api/vN prefix).

export const COMMITTED_DOCUMENT = join(import.meta.dirname, "../../docs/openapi/v1.json");
// The document is generated for this base URL, so that it does not depend on PUBLIC_URL.
export const DOCUMENT_BASE_URL = "http://localhost:3000/api/v1";

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents compared as JSON
type Json = any;

export interface Compatibility {
  breaking: string[];
  // Non-breaking changes: the committed document is behind (pnpm openapi:update).
  additions: number;
  newMajor: boolean;
}

const majorOf = (doc: Json) => Number(String(doc?.info?.version ?? "0").split(".")[0]);

export function compare(committed: Json, current: Json): Compatibility {
  // As JSON: the generator leaves undefined fields, which are no change to anyone.
  const diffs = apiDiff(structuredClone(committed), JSON.parse(JSON.stringify(current)));
  const breaking = diffs
    .filter((d) => d.type === "breaking" || (d.action === "replace" && d.path.at(-1) === "type"))
    .filter((d) => !(d.action === "add" && addsToOpenEnum(current, d.path)))
    .map((d) => `${d.action} ${d.path.join("/")}`);
  return {
    breaking,
    additions: diffs.length - breaking.length,
    newMajor: majorOf(current) !== majorOf(committed),
  };
}

// A value added to an enum the document declares open (`x-extensible-enum`, described as such to
// clients, ADR 018) is compatible: a client shows a kind it does not know as it is.
function addsToOpenEnum(doc: Json, path: readonly (string | number)[]): boolean {
  if (path.at(-2) !== "enum") return false;
  const schema = path.slice(0, -2).reduce((node: Json, key) => node?.[key], doc);
  return schema?.["x-extensible-enum"] === true;
}

export const readCommitted = (): Json => JSON.parse(readFileSync(COMMITTED_DOCUMENT, "utf8"));

export function writeCommitted(doc: Json): void {
  writeFileSync(COMMITTED_DOCUMENT, `${JSON.stringify(doc, null, 2)}\n`);
}

// The TypeScript types of the committed document (openapi-typescript), for clients such as
// openapi-fetch; committed beside it and kept current by openapi:update (the client test and
// openapi:check compare them with a fresh generation).
export const COMMITTED_TYPES = join(import.meta.dirname, "../../docs/openapi/v1.d.ts");

export async function typesOf(doc: Json): Promise<string> {
  const { default: openapiTS, astToString, COMMENT_HEADER } = await import("openapi-typescript");
  // The document's own copy: openapi-typescript resolves references in place.
  const ast = await openapiTS(structuredClone(doc), { silent: true });
  return `${COMMENT_HEADER}${astToString(ast)}`;
}

export const readCommittedTypes = (): string => readFileSync(COMMITTED_TYPES, "utf8");
export async function writeCommittedTypes(doc: Json): Promise<void> {
  writeFileSync(COMMITTED_TYPES, await typesOf(doc));
}

export interface CheckResult {
  ok: boolean;
  lines: string[];
}

// pnpm openapi:check (and CI): the committed document must be exactly the code's, so that every
// change, additions included, is recorded in a commit; a breaking one also needs a new major
// version. The committed types must be the committed document's. `result` is compare's, when the
// caller has it already (the comparison of the whole document takes seconds).
export function checkCommitted(
  committed: Json,
  current: Json,
  types: { committed: string; current: string },
  result: Compatibility = compare(committed, current),
) {
  const lines = result.breaking.map((change) => `breaking: ${change}`);
  const fail = (line: string): CheckResult => ({ ok: false, lines: [...lines, line] });
  if (result.breaking.length > 0 && !result.newMajor) {
    return fail(
      `${result.breaking.length} breaking change(s) to /api/v1: keep them compatible, or make a new major version`,
    );
  }
  if (JSON.stringify(committed) !== JSON.stringify(current)) {
    return fail(
      `docs/openapi/v1.json differs from the code's document (${result.additions} compatible change(s)): ` +
        "run pnpm openapi:update and commit it",
    );
  }
  if (types.committed !== types.current) {
    return fail("docs/openapi/v1.d.ts is not the committed document's types: run pnpm openapi:update and commit it");
  }
  return { ok: true, lines: [...lines, "the committed document and its types are up to date"] };
}
