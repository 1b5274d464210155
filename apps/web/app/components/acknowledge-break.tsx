import { MAX_REASON_LENGTH } from "@credits/api/limits";
import { Form, useNavigation } from "@remix-run/react";
import { Alert, Button, Field } from "./ui.tsx";

// What the run page's action answered for one acknowledgement form (the break it was for).
export interface BreakOutcome {
  userId: string;
  seq: string;
  ok: boolean;
  created?: boolean;
  errors: Partial<Record<string, string>>;
}

// Under a ledger_invariant finding whose chain breaks at row `seq`: the ledger cannot be corrected,
// so an admin who looked accepts the break (audited); the checks then report the user's other
// breaks and drift only.
export function AcknowledgeBreak({
  userId,
  seq,
  outcome,
}: {
  userId: string;
  seq: number;
  outcome: BreakOutcome | undefined;
}) {
  const navigation = useNavigation();
  const mine = outcome?.userId === userId && outcome.seq === String(seq) ? outcome : undefined;
  const sending =
    navigation.state !== "idle" &&
    navigation.formData?.get("userId") === userId &&
    navigation.formData?.get("seq") === String(seq);
  if (mine?.ok) {
    return (
      <Alert tone="success">
        {mine.created ? "Acknowledged" : "Already acknowledged"}: the break at row {seq} is no longer reported.
      </Alert>
    );
  }
  return (
    <Form method="post" className="mt-3 flex flex-wrap items-end gap-3">
      <input type="hidden" name="userId" value={userId} />
      <input type="hidden" name="seq" value={seq} />
      <Field
        id={`reason-${userId}-${seq}`}
        className="min-w-64 flex-1"
        label={`Acknowledge the break at row ${seq}`}
        name="reason"
        required
        maxLength={MAX_REASON_LENGTH}
        placeholder="Restored from the backup of 3 March"
        hint="Why this break is accepted; kept in the audit log. Any other break or drift of this user is still reported."
        error={mine?.errors.reason ?? mine?.errors.form}
      />
      <Button type="submit" tone="secondary" disabled={sending} pending={sending} pendingLabel="Acknowledging…">
        Acknowledge
      </Button>
    </Form>
  );
}
