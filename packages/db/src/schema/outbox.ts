// The outbox (drizzle/0009_outbox.sql): events written in the transaction of their change.
import { bigint, index, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { createdAt } from "./columns.ts";

export const outboxEvents = pgTable(
  "outbox_events",
  {
    id: text("id").primaryKey(),
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity().unique(),
    type: text("type").notNull(),
    userId: uuid("user_id"),
    payload: jsonb("payload").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("outbox_events_user_idx").on(t.userId, t.seq)],
);
