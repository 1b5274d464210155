import { Form } from "@remix-run/react";
import { Button, Card, Field } from "./ui.tsx";

// The low-balance alert on /account: a threshold in credits, or empty for no alert.
export function LowBalanceAlertForm({
  threshold,
  isDefault,
  error,
  saving,
}: {
  threshold: number | null;
  isDefault: boolean;
  error?: string | undefined;
  saving: boolean;
}) {
  return (
    <Card>
      <h2 className="text-lg font-semibold text-slate-900">Low-balance alert</h2>
      <p className="mt-1 text-sm text-slate-600">
        When your balance goes below this many credits we email you and show a banner, once each time.
        {isDefault ? " This is the default; set your own or leave it empty for no alert." : ""}
      </p>
      <Form method="post" className="mt-4 flex flex-wrap items-end gap-3">
        <input type="hidden" name="intent" value="alerts" />
        <Field
          label="Alert threshold (credits)"
          name="lowBalanceThreshold"
          type="number"
          inputMode="numeric"
          min={0}
          step={1}
          defaultValue={threshold ?? ""}
          error={error}
        />
        <Button type="submit" tone="secondary" pending={saving} pendingLabel="Saving…">
          Save alert
        </Button>
      </Form>
    </Card>
  );
}
