import { MAX_EMAIL_LENGTH, MAX_REASON_LENGTH } from "@credits/api/limits";
import { data, type MetaFunction, redirect } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation } from "@remix-run/react";
import { Alert, Button, Card, Field, PageHeader } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { isUuid } from "../lib/admin.server.ts";
import { formFailure, type Messages } from "../lib/errors.server.ts";
import { textField } from "../lib/forms.ts";
import { adminRoute } from "../lib/route.server.ts";

// GDPR erasure by an admin, on its own page: it cannot be undone, and its reason is kept forever.
export const meta: MetaFunction = () => [{ title: "Erase a user · Admin · Credits" }];

export const loader = adminRoute(async ({ params, api }) => {
  const userId = params.userId ?? "";
  if (!isUuid(userId)) throw data("no such user", { status: 404 });
  const { user } = await api.caller.admin.user({ userId });
  return { user: { id: user.id, email: user.email, erased: user.erased } };
});

export const action = adminRoute(async ({ request, params, api }) => {
  const userId = params.userId ?? "";
  if (!isUuid(userId)) throw data("no such user", { status: 404 });
  const form = await request.formData();
  const reason = textField(form, "reason").trim();
  const confirmEmail = textField(form, "confirmEmail");
  const errors: Messages = {};
  if (!reason) errors.reason = "Say on what ground, e.g. “request by email, ticket 4711”.";
  else if (reason.length > MAX_REASON_LENGTH) errors.reason = `Use at most ${MAX_REASON_LENGTH} characters.`;
  if (!confirmEmail.trim()) errors.confirmEmail = "Type the user's email to confirm: this cannot be undone.";
  else if (confirmEmail.length > MAX_EMAIL_LENGTH) errors.confirmEmail = "That is not this user's email.";
  if (Object.keys(errors).length > 0) return data({ errors, reason, confirmEmail }, { status: 400 });
  try {
    // The router compares the typed email with the user's (trimmed, any case) and erases nothing
    // on a mismatch: the check holds for a hand-made POST as well as for this form.
    await api.caller.admin.eraseUser({ userId, reason, confirmEmail });
  } catch (error) {
    const failure = formFailure(error, "erase");
    if (!failure) throw error;
    return data({ errors: failure.errors, reason, confirmEmail }, { status: failure.status });
  }
  throw redirect(`/admin/users/${userId}`);
});

export default function EraseUser() {
  const { user } = useLoaderData<typeof loader>();
  const outcome = useActionResult<typeof action>();
  const erasing = useNavigation().state === "submitting";
  return (
    <div className="space-y-6">
      <p>
        <Link
          to={`/admin/users/${user.id}`}
          className="text-sm font-medium text-indigo-700 underline-offset-4 hover:underline"
        >
          ← {user.email ?? "Erased user"}
        </Link>
      </p>
      <PageHeader
        title="Erase this user"
        description="Their email, name, password, sessions, API keys, customer at the payment provider and stored provider events are deleted. Payments and the ledger stay, pseudonymized."
      />
      {user.erased ? (
        <Alert tone="info">This user is already erased.</Alert>
      ) : (
        <Card className="max-w-xl">
          <Form method="post" className="space-y-5">
            {outcome?.errors.form ? <Alert tone="error">{outcome.errors.form}</Alert> : null}
            <Alert tone="warning" title="The reason is kept forever">
              It stays in the audit log after the erasure: write the ground for it, never personal data (no names,
              emails or what the person wrote).
            </Alert>
            <Field
              label="Reason"
              name="reason"
              required
              maxLength={MAX_REASON_LENGTH}
              placeholder="Request by email, ticket 4711"
              defaultValue={outcome?.reason}
              error={outcome?.errors.reason}
            />
            <Field
              label="Type the user's email to confirm"
              name="confirmEmail"
              type="text"
              required
              autoComplete="off"
              spellCheck={false}
              maxLength={MAX_EMAIL_LENGTH}
              hint={`This cannot be undone. Type ${user.email ?? "the email"} exactly (case does not matter).`}
              defaultValue={outcome?.confirmEmail}
              error={outcome?.errors.confirmEmail}
            />
            <Button type="submit" tone="danger" disabled={erasing} pending={erasing} pendingLabel="Erasing…">
              Erase user
            </Button>
          </Form>
        </Card>
      )}
    </div>
  );
}
