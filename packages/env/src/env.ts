import { z } from "zod";

// The one place that reads process.env. Everything else receives a parsed, typed Env.
const schema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  // postgres://… selects PostgreSQL (postgres.js); unset runs on embedded PGlite under DATA_DIR.
  DATABASE_URL: z.url().optional(),
  DATA_DIR: z.string().default("./.data"),
  // Tests only: the server that per-file test databases are created on.
  TEST_DATABASE_URL: z.url().optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
});

export type Env = z.infer<typeof schema>;

export function parseEnv(source: Record<string, string | undefined>): Env {
  const blanksRemoved = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ""));
  const parsed = schema.safeParse(blanksRemoved);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`invalid environment:\n  ${problems.join("\n  ")}`);
  }
  return parsed.data;
}

export const env: Env = parseEnv(process.env);
