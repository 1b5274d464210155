import { apiReads, bareReads, READ_CONNECTIONS } from "./reads.ts";

// The spend scenarios: name, connections, and which users they draw from (user 1 only, every plain
// user, or the users with 20 grants).
export const SPENDS = [
  ["spend", 4, "all"],
  ["spend", 64, "all"],
  ["spend hot user", 64, "hot"],
  ["spend 20 grants", 64, "grants"],
] as const;

// The webhook scenario's connections unless `--webhook-connections` says otherwise.
export const WEBHOOK_CONNECTIONS_DEFAULT = 16;

// Every name `--only` may give (scenario@connections), whatever else the command line narrows.
export const scenarioNames = (webhookConnections: number) => [
  ...SPENDS.map(([name, connections]) => `${name}@${connections}`),
  ...[...apiReads("", {}, {}), ...bareReads("")].map((read) => `${read.scenario}@${READ_CONNECTIONS}`),
  `webhook@${webhookConnections}`,
  "pgbench@0",
];
