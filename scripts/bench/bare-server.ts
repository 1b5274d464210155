// The runtime's limit: node:http + postgres.js executing exactly the statement of each call,
// nothing else (no router, validation, auth or logging). Same load generator, same database, same
// pool size. POST /spend: the spend statement; GET /credits/<userId>: the balance, grants and
// newest page in one statement; GET /balance/<userId>: the balance and the next expiry;
// GET /balance-owed/<userId>: that read with the work every API read owes (owed-work.ts).
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import postgres from "postgres";
import { owedWorkRead } from "./owed-work.ts";
import { BALANCE_SQL, READ_SQL } from "./read-sql.ts";
import { SPEND_SQL } from "./spend-sql.ts";

const sql = postgres(process.env.DATABASE_URL ?? "", {
  max: Number(process.env.DATABASE_POOL_MAX ?? 10),
  onnotice: () => {},
});

function answer(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function read(res: ServerResponse, statement: string, userId: string) {
  try {
    const [row] = await sql.unsafe(statement, [userId], { prepare: true });
    if (!row) return answer(res, 404, { error: "no such user" });
    const { balance, ...rest } = row;
    answer(res, 200, { balance: Number(balance), ...rest });
  } catch (error) {
    answer(res, 500, { error: String(error) });
  }
}

const balanceWithOwedWork = owedWorkRead((userId) => sql.unsafe(BALANCE_SQL, [userId], { prepare: true }));

const server = createServer((req, res) => {
  const [, route, userId] = (req.url ?? "").split("/");
  if (req.method === "GET" && route === "credits" && userId) return void read(res, READ_SQL, userId);
  if (req.method === "GET" && route === "balance" && userId) return void read(res, BALANCE_SQL, userId);
  if (req.method === "GET" && route === "balance-owed" && userId) return void balanceWithOwedWork(req, res, userId);
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const amount = -Number(body.amount);
      const params = [body.userId, amount, false, "spend", `c:${body.idempotencyKey}`, null];
      const [row] = await sql.unsafe(SPEND_SQL, params, { prepare: true });
      answer(
        res,
        row ? 200 : 402,
        row ? { transactionId: row.id, balance: Number(row.balance_after) } : { error: "refused" },
      );
    } catch (error) {
      answer(res, 500, { error: String(error) });
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
