-- API keys are accountable (owner checked in code: keys made before owners existed keep a NULL
-- owner and are refused at authentication), may carry per-day limits, and their use is audited.
ALTER TABLE "api_keys" ADD COLUMN "grant_credits_per_day" bigint;
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "grant_calls_per_day" integer;
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "spend_credits_per_day" bigint;
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "spend_calls_per_day" integer;
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_limits_positive" CHECK (
  coalesce("grant_credits_per_day", 1) > 0 AND coalesce("grant_calls_per_day", 1) > 0 AND
  coalesce("spend_credits_per_day", 1) > 0 AND coalesce("spend_calls_per_day", 1) > 0);
--> statement-breakpoint
CREATE TABLE "api_key_usage" (
  "api_key_id" uuid NOT NULL,
  "day" date NOT NULL,
  "operation" text NOT NULL,
  "credits" bigint NOT NULL DEFAULT 0,
  "calls" integer NOT NULL DEFAULT 0,
  CONSTRAINT "api_key_usage_pk" PRIMARY KEY ("api_key_id", "day", "operation"),
  CONSTRAINT "api_key_usage_operation" CHECK ("operation" IN ('grant', 'spend')),
  CONSTRAINT "api_key_usage_non_negative" CHECK ("credits" >= 0 AND "calls" >= 0),
  CONSTRAINT "api_key_usage_api_key_id_api_keys_id_fk" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_keys"("id")
);
--> statement-breakpoint
ALTER TABLE "admin_actions" ADD COLUMN "api_key_id" uuid;
--> statement-breakpoint
ALTER TABLE "admin_actions" ADD CONSTRAINT "admin_actions_api_key_id_api_keys_id_fk" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_keys"("id");
--> statement-breakpoint
ALTER TABLE "admin_actions" ADD COLUMN "detail" jsonb;
--> statement-breakpoint
CREATE INDEX "admin_actions_api_key_idx" ON "admin_actions" ("api_key_id", "created_at");
--> statement-breakpoint
-- NOT VALID: a past approval by a beneficiary stays on record; every new decision is checked.
ALTER TABLE "adjustment_requests" ADD CONSTRAINT "adjustment_not_decided_by_beneficiary"
  CHECK ("decided_by" IS NULL OR "decided_by" <> "target_user_id") NOT VALID;
