-- Admin user search without a scan of every user (issue 17, ADR 012): a substring of three or
-- more characters through a trigram index (pg_trgm: trusted, so the database owner may create it;
-- PGlite ships it as a contrib extension the client loads), a shorter query as a prefix of the
-- email (emails are stored lowercase) through a pattern index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE INDEX "users_email_trgm_idx" ON "users" USING gin ("email" gin_trgm_ops);
--> statement-breakpoint
CREATE INDEX "users_email_prefix_idx" ON "users" ("email" text_pattern_ops);
