// The runtime's limit: node:http + postgres.js executing exactly the spend statement, nothing else
// (no router, validation, auth or logging). Same load generator, same database, same pool size.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import postgres from "postgres";
import { SPEND_SQL } from "./spend-sql.ts";

const sql = postgres(process.env.DATABASE_URL ?? "", {
  max: Number(process.env.DATABASE_POOL_MAX ?? 10),
  onnotice: () => {},
});

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const amount = -Number(body.amount);
      const params = [body.userId, amount, false, "spend", `c:${body.idempotencyKey}`, null];
      const [row] = await sql.unsafe(SPEND_SQL, params, { prepare: true });
      res.writeHead(row ? 200 : 402, { "content-type": "application/json" });
      res.end(
        JSON.stringify(row ? { transactionId: row.id, balance: Number(row.balance_after) } : { error: "refused" }),
      );
    } catch (error) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: String(error) }));
    }
  });
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.once("SIGTERM", () => {
  server.close();
  sql.end({ timeout: 1 }).then(() => process.exit(0));
});
