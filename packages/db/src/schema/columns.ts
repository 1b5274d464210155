// Column shapes every table uses.
import { MAX_CREDITS_PER_OPERATION } from "@credits/core";
import { bigint, timestamp } from "drizzle-orm/pg-core";

export const credits = (name: string) => bigint(name, { mode: "number" });
// Millisecond precision, so a timestamp survives a round trip through a JS Date exactly (keyset
// cursors compare them).
export const tsz = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
export const createdAt = () => tsz("created_at").notNull().defaultNow();

// Bounds shared by code (core/limits.ts) and constraints: no single operation moves more than
// this many credits, which keeps every sum far below 2^53.
export const MAX_OP = MAX_CREDITS_PER_OPERATION;
