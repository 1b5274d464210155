// An internal tool in a dozen lines: reads a user's balance, spends one credit (safe to re-run
// with the same --key: it spends once), and reads it again.
//   node scripts/src/example-client.ts --url http://localhost:3000 --api-key ck_… --user-id <uuid> [--key job-42]
import { parseArgs } from "node:util";
import { createCreditsClient } from "@credits/client";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://localhost:3000" },
    "api-key": { type: "string" },
    "user-id": { type: "string" },
    key: { type: "string" },
  },
});
const apiKey = values["api-key"];
const userId = values["user-id"];
if (!apiKey || !userId) {
  console.error("usage: example-client.ts --url URL --api-key KEY --user-id UUID [--key IDEMPOTENCY_KEY]");
  process.exit(2);
}

const client = createCreditsClient({ url: values.url, apiKey });
const before = await client.credits.ofUser.query({ userId, limit: 1 });
console.log(`balance before: ${before.balance}`);
const spent = await client.credits.spend.mutate({
  userId,
  amount: 1,
  idempotencyKey: values.key ?? `example-${crypto.randomUUID()}`,
  reason: "example client",
});
console.log(`spent 1 credit in transaction ${spent.transactionId}; balance now ${spent.balance}`);
