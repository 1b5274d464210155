import { MAX_REASON_LENGTH } from "@credits/api/limits";
import { Form, useNavigation } from "@remix-run/react";
import { Alert, Button, Field } from "./ui.tsx";

// What the run page's action answered for one acknowledgement form (the break it was for).
export interface BreakOutcome {
  userId: string;
  seq: string;
  ok: boolean;
  created?: boolean;
  awaitingSecondAdmin?: boolean;
  errors: Partial<Record<string, string>>;
}

// Under a ledger_invariant finding whose chain breaks at row `seq`: the ledger cannot be corrected,
// so an admin who looked accepts the break (audited); the checks then report the user's other
// breaks and drift only.
// A break above what one admin may accept waits for a second admin: `pending` is the first
// admin's request (requestedBy: "you" or their email), which another admin acknowledges here too.
export interface PendingBreak {
  requestedBy: string;
  reason: string;
  delta: number;
  mine: boolean;
}

export function AcknowledgeBreak({
  userId,
  seq,
  outcome,
  pending,
}: {
  userId: string;
  seq: number;
  outcome: BreakOutcome | undefined;
  pending: PendingBreak | undefined;
}) {
  const navigation = useNavigation();
  const mine = outcome?.userId === userId && outcome.seq === String(seq) ? outcome : undefined;
  const sending =
    navigation.state !== "idle" &&
    navigation.formData?.get("userId") === userId &&
    navigation.formData?.get("seq") === String(seq);
  if (mine?.ok) {
    return mine.awaitingSecondAdmin ? (
      <Alert tone="warning">
        Sent to a second admin: this break moves more credits than one admin may accept, so it stays reported until
        another admin acknowledges it too.
      </Alert>
    ) : (
      <Alert tone="success">
        {mine.created ? "Acknowledged" : "Already acknowledged"}: the break at row {seq} is no longer reported.
      </Alert>
    );
  }
  if (pending?.mine) {
    return (
      <Alert tone="warning">
        You acknowledged this break (“{pending.reason}”): it moves {pending.delta} credits, so it waits for a second
        admin.
      </Alert>
    );
  }
  return (
    <Form method="post" className="mt-3 flex flex-wrap items-end gap-3">
      {pending ? (
        <p className="w-full text-sm text-amber-800" data-testid="break-request">
          Acknowledged by {pending.requestedBy} (“{pending.reason}”); it moves {pending.delta} credits, more than one
          admin may accept: acknowledge it too to accept it.
        </p>
      ) : null}
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
