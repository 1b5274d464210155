import { data, type MetaFunction, redirect } from "@remix-run/node";
import { Form, useLoaderData, useNavigation, useSearchParams } from "@remix-run/react";
import { AuthCard, CredentialFields } from "../components/auth-card.tsx";
import { Alert, Button, TextLink } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { formFailure, type Messages } from "../lib/errors.server.ts";
import { checkEmail, PASSWORD_MAX, textField } from "../lib/forms.ts";
import { route } from "../lib/route.server.ts";
import { safeRedirect } from "../lib/safe-redirect.ts";

export const meta: MetaFunction = () => [{ title: "Log in · Credits" }];

export const loader = route(async ({ request, context, api }) => {
  const url = new URL(request.url);
  if (await api.session()) throw redirect(safeRedirect(url.searchParams.get("redirectTo"), context.publicOrigin));
  // A notice after signing out everywhere, or when a page asked for a log-in first.
  const notice =
    url.searchParams.get("signedOut") === "everywhere"
      ? "everywhere"
      : url.searchParams.has("redirectTo")
        ? "required"
        : null;
  return { notice };
});

export const action = route(async ({ request, context, api }) => {
  const form = await request.formData();
  const email = textField(form, "email").trim();
  const password = textField(form, "password");
  const values = { email };
  const errors: Messages = {};
  const emailError = checkEmail(email);
  if (emailError) errors.email = emailError;
  if (!password) errors.password = "Enter your password.";
  else if (password.length > PASSWORD_MAX) errors.password = `Passwords are at most ${PASSWORD_MAX} characters.`;
  if (Object.keys(errors).length > 0) return data({ errors, values }, { status: 400 });

  try {
    await api.caller.auth.logIn({ email, password });
  } catch (error) {
    const failure = formFailure(error, "logIn");
    if (!failure) throw error;
    return data({ errors: failure.errors, values }, { status: failure.status });
  }
  return redirect(safeRedirect(form.get("redirectTo"), context.publicOrigin));
});

export default function LogIn() {
  const { notice } = useLoaderData<typeof loader>();
  const result = useActionResult<typeof action>();
  const navigation = useNavigation();
  const [params] = useSearchParams();
  const redirectTo = params.get("redirectTo") ?? "";
  const errors: Messages = result?.errors ?? {};
  return (
    <AuthCard
      title="Log in"
      subtitle="Welcome back."
      footer={
        <>
          New here?{" "}
          <TextLink to={redirectTo ? `/signup?redirectTo=${encodeURIComponent(redirectTo)}` : "/signup"}>
            Create an account
          </TextLink>
        </>
      }
    >
      <Form method="post" className="space-y-5">
        {errors.form ? (
          <Alert tone="error">{errors.form}</Alert>
        ) : notice === "everywhere" ? (
          <Alert tone="success">You have been signed out on every device.</Alert>
        ) : notice === "required" ? (
          <Alert tone="info">Log in to continue.</Alert>
        ) : null}
        <input type="hidden" name="redirectTo" value={redirectTo} />
        <CredentialFields email={result?.values.email} errors={errors} />
        <Button type="submit" className="w-full" pending={navigation.state === "submitting"} pendingLabel="Logging in…">
          Log in
        </Button>
      </Form>
    </AuthCard>
  );
}
