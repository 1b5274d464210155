import { MAX_NAME_LENGTH } from "@credits/api/limits";
import { data, type MetaFunction, redirect } from "@remix-run/node";
import { Form, useNavigation, useSearchParams } from "@remix-run/react";
import { AuthCard, CredentialFields } from "../components/auth-card.tsx";
import { Alert, Button, Field, TextLink } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { formFailure, type Messages } from "../lib/errors.server.ts";
import { checkEmail, checkNewPassword, textField } from "../lib/forms.ts";
import { route } from "../lib/route.server.ts";
import { safeRedirect } from "../lib/safe-redirect.ts";

export const meta: MetaFunction = () => [{ title: "Sign up · Credits" }];

export const loader = route(async ({ api }) => {
  if (await api.session()) throw redirect("/credits");
  return null;
});

export const action = route(async ({ request, context, api }) => {
  const form = await request.formData();
  const name = textField(form, "name").trim();
  const email = textField(form, "email").trim();
  const password = textField(form, "password");
  const values = { name, email };
  const errors: Messages = {};
  const nameError = name.length > MAX_NAME_LENGTH ? `Use at most ${MAX_NAME_LENGTH} characters.` : undefined;
  if (nameError) errors.name = nameError;
  const emailError = checkEmail(email);
  if (emailError) errors.email = emailError;
  const passwordError = checkNewPassword(password);
  if (passwordError) errors.password = passwordError;
  if (Object.keys(errors).length > 0) return data({ errors, values }, { status: 400 });

  try {
    await api.caller.auth.signUp({ email, password, ...(name ? { name } : {}) });
  } catch (error) {
    const failure = formFailure(error, "signUp");
    if (!failure) throw error;
    return data({ errors: failure.errors, values }, { status: failure.status });
  }
  return redirect(safeRedirect(form.get("redirectTo"), context.publicOrigin));
});

export default function SignUp() {
  const result = useActionResult<typeof action>();
  const navigation = useNavigation();
  const [params] = useSearchParams();
  const redirectTo = params.get("redirectTo") ?? "";
  const errors: Messages = result?.errors ?? {};
  const submitting = navigation.state === "submitting" && navigation.formAction?.startsWith("/signup");
  return (
    <AuthCard
      title="Create your account"
      subtitle="Buy credit packs and spend them as you go."
      footer={
        <>
          Already have an account?{" "}
          <TextLink to={redirectTo ? `/login?redirectTo=${encodeURIComponent(redirectTo)}` : "/login"}>Log in</TextLink>
        </>
      }
    >
      <Form method="post" className="space-y-5" aria-describedby={errors.form ? "signup-error" : undefined}>
        {errors.form ? (
          <Alert tone="error" id="signup-error">
            {errors.form}
          </Alert>
        ) : null}
        <input type="hidden" name="redirectTo" value={redirectTo} />
        <Field
          label="Name (optional)"
          name="name"
          autoComplete="name"
          maxLength={MAX_NAME_LENGTH}
          defaultValue={result?.values.name}
          error={errors.name}
        />
        <CredentialFields email={result?.values.email} errors={errors} newPassword />
        <Button type="submit" className="w-full" pending={submitting} pendingLabel="Creating your account…">
          Create account
        </Button>
      </Form>
    </AuthCard>
  );
}
