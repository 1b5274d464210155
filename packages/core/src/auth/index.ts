export * from "./accounts.ts";
export * from "./api-key-limits.ts";
export * from "./api-keys.ts";
export * from "./first-admin.ts";
export * from "./passwords.ts";
export * from "./ports.ts";
export * from "./rate-limit.ts";
