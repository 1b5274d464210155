-- Rate-limit keys held raw emails and addresses (an erased email came back here on the next log-in
-- attempt). From now on keys are HMAC-SHA256 digests under a secret every instance reads from
-- rate_limit_secret; the old rows are dropped rather than converted (they are at most a window old).
DELETE FROM "rate_limits";
--> statement-breakpoint
ALTER TABLE "rate_limits" ADD COLUMN "expires_at" timestamp (3) with time zone NOT NULL;
--> statement-breakpoint
CREATE INDEX "rate_limits_expires_at_idx" ON "rate_limits" USING btree ("expires_at");
--> statement-breakpoint
-- One row. gen_random_uuid() is built in on PostgreSQL 13+ and PGlite (no pgcrypto needed) and
-- draws from the server's strong random source: two of them give 244 random bits.
CREATE TABLE "rate_limit_secret" (
	"id" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"secret" text DEFAULT (replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rate_limit_secret_single_row" CHECK ("rate_limit_secret"."id")
);
--> statement-breakpoint
INSERT INTO "rate_limit_secret" ("id") VALUES (true);
