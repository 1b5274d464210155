import { data, type MetaFunction, redirect } from "@remix-run/node";
import { Form, useNavigation } from "@remix-run/react";
import { AuthCard, CredentialFields } from "../components/auth-card.tsx";
import { Alert, Button, Field } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { formFailure, type Messages } from "../lib/errors.server.ts";
import { checkEmail, checkNewPassword, textField } from "../lib/forms.ts";
import { route } from "../lib/route.server.ts";

// The first admin of a new installation: the server printed a one-time setup token in its log at
// start. Once any admin exists (or the token is used, expired, or the server restarted) the page
// is gone: a 404 like any unknown address.
export const meta: MetaFunction = () => [{ title: "Set up · Credits" }];

const notFound = () => data("not found", { status: 404 });

export const loader = route(async ({ api }) => {
  const { open } = await api.caller.setup.status();
  if (!open) throw notFound();
  return null;
});

export const action = route(async ({ request, api }) => {
  const form = await request.formData();
  const token = textField(form, "token").trim();
  const email = textField(form, "email").trim();
  const password = textField(form, "password");
  const values = { email };
  const errors: Messages = {};
  if (!token) errors.token = "Enter the setup token from the server's log.";
  else if (token.length > 100) errors.token = "That is not a setup token.";
  const emailError = checkEmail(email);
  if (emailError) errors.email = emailError;
  const passwordError = checkNewPassword(password);
  if (passwordError) errors.password = passwordError;
  if (Object.keys(errors).length > 0) return data({ errors, values }, { status: 400 });

  try {
    await api.caller.setup.createFirstAdmin({ token, email, password });
  } catch (error) {
    const failure = formFailure(error, "setup");
    if (!failure) throw error;
    return data({ errors: failure.errors, values }, { status: failure.status });
  }
  return redirect("/admin");
});

export default function Setup() {
  const result = useActionResult<typeof action>();
  const navigation = useNavigation();
  const errors: Messages = result?.errors ?? {};
  return (
    <AuthCard title="Create the first admin" subtitle="This installation has no administrator yet.">
      <Form method="post" className="space-y-5">
        {errors.form ? <Alert tone="error">{errors.form}</Alert> : null}
        <Field
          label="Setup token"
          name="token"
          autoComplete="off"
          required
          hint="Printed once in the server's log when it started."
          error={errors.token}
        />
        <CredentialFields email={result?.values.email} errors={errors} newPassword />
        <Button
          type="submit"
          className="w-full"
          pending={navigation.state === "submitting"}
          pendingLabel="Creating the admin…"
        >
          Create admin
        </Button>
      </Form>
    </AuthCard>
  );
}
