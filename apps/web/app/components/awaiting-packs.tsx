import type { RouterOutputs } from "@credits/api";
import { Form } from "@remix-run/react";
import { formatCredits, formatMoney } from "../lib/format.ts";
import { Badge, Button } from "./ui.tsx";

type Pack = RouterOutputs["admin"]["packages"]["packages"][number];

// Packs priced below every pack on sale: not sold until an admin other than their creator
// approves them (ADR 015). The creator gets no Approve button; the server refuses it anyway.
export function AwaitingPacks({ packs, me }: { packs: Pack[]; me: string }) {
  if (packs.length === 0) return null;
  return (
    <section aria-labelledby="awaiting-packs-heading" className="space-y-3">
      <h2 id="awaiting-packs-heading" className="text-lg font-semibold text-slate-900">
        Awaiting approval ({packs.length})
      </h2>
      <ul className="space-y-3">
        {packs.map((pack) => (
          <li key={pack.id} className="rounded-2xl border border-amber-200 bg-amber-50 p-4">
            <div className="flex flex-wrap items-start justify-between gap-3">
              <div>
                <p className="flex items-center gap-2 font-medium text-slate-900">
                  {pack.name} <Badge tone="warning">Not on sale</Badge>
                </p>
                <p className="text-sm text-slate-700">
                  {formatCredits(pack.credits)} ·{" "}
                  {pack.prices.map((p) => formatMoney(p.unitAmount, p.currency)).join(" · ")}
                </p>
                <p className="text-xs text-slate-600">
                  Priced below every pack on sale:{" "}
                  {pack.createdBy === me ? "another admin must approve it." : "it is sold once you approve it."}
                </p>
              </div>
              <div className="flex gap-2">
                {pack.createdBy === me ? null : <PackAction pack={pack} intent="approve" />}
                <PackAction pack={pack} intent="archive" />
              </div>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

// One button posting an intent for a pack (the packs page's action handles both).
export function PackAction({ pack, intent }: { pack: { id: string; name: string }; intent: "approve" | "archive" }) {
  const label = intent === "approve" ? "Approve" : "Archive";
  return (
    <Form method="post">
      <input type="hidden" name="intent" value={intent} />
      <input type="hidden" name="id" value={pack.id} />
      <Button type="submit" tone={intent === "approve" ? "primary" : "secondary"} aria-label={`${label} ${pack.name}`}>
        {label}
      </Button>
    </Form>
  );
}
