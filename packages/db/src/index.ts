export * from "./admin-store.ts";
export * from "./auth-stores.ts";
export * from "./catalog-store.ts";
export * from "./client.ts";
export * from "./errors.ts";
export * from "./ledger-store.ts";
export * from "./payment-store.ts";
export * from "./seed.ts";
