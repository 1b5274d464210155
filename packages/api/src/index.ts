// The audit log's actions, for the panel's labels (a Record over them: a new action without a label
// fails typecheck).
export type { AuditAction } from "@credits/core";
export * from "./context.ts";
export * from "./cookies.ts";
export * from "./errors.ts";
export {
  LEAN_READ_PROCEDURES,
  type LeanKind,
  type LeanProcedureDef,
  type LeanRead,
  leanRead,
  leanReadProblems,
  rawInputOf,
} from "./lean-read-procedures.ts";
export * from "./openapi.ts";
export { BALANCE_EVENTS_DOC_PATH, OPENAPI_DOC_PATH } from "./openapi-server-routes.ts";
export * from "./rate-limit-headers.ts";
export * from "./root.ts";
export * from "./services.ts";
export * from "./streamed.ts";
export type { Access } from "./trpc.ts";
