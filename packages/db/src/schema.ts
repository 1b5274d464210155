// The whole product's tables. Later work adds migrations, not reshapes: every table the design
// names is here from the start. Credits are bigint (mode number: < 2^53 by the CHECKs below),
// money is integer minor units with an ISO 4217 currency.
// One module per part of the product (schema/*.ts); drizzle-kit and the stores read them here.
export * from "./schema/accounts.ts";
export * from "./schema/autotopup.ts";
export * from "./schema/grants.ts";
export * from "./schema/ledger.ts";
export * from "./schema/notifications.ts";
export * from "./schema/operations.ts";
export * from "./schema/outbox.ts";
export * from "./schema/payments.ts";
export * from "./schema/stats.ts";
export * from "./schema/webhooks.ts";
