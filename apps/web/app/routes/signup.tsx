import { MAX_NAME_LENGTH } from "@credits/api/limits";
import { type ActionFunctionArgs, data, type LoaderFunctionArgs, type MetaFunction, redirect } from "@remix-run/node";
import { Form, useActionData, useNavigation, useSearchParams } from "@remix-run/react";
import { AuthCard } from "../components/auth-card.tsx";
import { Alert, Button, Field, TextLink } from "../components/ui.tsx";
import { apiFor } from "../lib/api.server.ts";
import { callError } from "../lib/errors.server.ts";
import { checkEmail, checkNewPassword, PASSWORD_MAX, PASSWORD_MIN, textField } from "../lib/forms.ts";
import { safeRedirect } from "../lib/safe-redirect.ts";

export const meta: MetaFunction = () => [{ title: "Sign up · Credits" }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const api = apiFor(request, context);
  if (await api.session()) throw redirect("/credits", { headers: api.headers() });
  return null;
}

type Errors = Partial<Record<"name" | "email" | "password" | "form", string>>;

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  const name = textField(form, "name").trim();
  const email = textField(form, "email").trim();
  const password = textField(form, "password");
  const values = { name, email };
  const errors: Errors = {};
  const nameError = name.length > 100 ? "Use at most 100 characters." : undefined;
  if (nameError) errors.name = nameError;
  const emailError = checkEmail(email);
  if (emailError) errors.email = emailError;
  const passwordError = checkNewPassword(password);
  if (passwordError) errors.password = passwordError;
  if (Object.keys(errors).length > 0) return data({ errors, values }, { status: 400 });

  const api = apiFor(request, context);
  try {
    await api.caller.auth.signUp({ email, password, ...(name ? { name } : {}) });
  } catch (error) {
    const failure = callError(error);
    if (!failure) throw error;
    if (failure.domainCode === "ALREADY_EXISTS") {
      errors.email = "An account with this email already exists. Log in instead?";
    } else if (failure.code === "TOO_MANY_REQUESTS") {
      errors.form = `Too many attempts. Try again in ${failure.retryAfterSeconds ?? 60} seconds.`;
    } else if (failure.code === "BAD_REQUEST") {
      errors.email = failure.fields.email ? "Enter a valid email address." : undefined;
      errors.password = failure.fields.password ? `Use ${PASSWORD_MIN} to ${PASSWORD_MAX} characters.` : undefined;
      errors.name = failure.fields.name ? "Check your name." : undefined;
      errors.form = errors.email || errors.password || errors.name ? undefined : failure.message;
    } else {
      throw error;
    }
    return data(
      { errors, values },
      { status: failure.code === "TOO_MANY_REQUESTS" ? 429 : 400, headers: api.headers() },
    );
  }
  return redirect(safeRedirect(form.get("redirectTo"), context.publicOrigin), { headers: api.headers() });
}

export default function SignUp() {
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const [params] = useSearchParams();
  const redirectTo = params.get("redirectTo") ?? "";
  const errors: Errors = result?.errors ?? {};
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
        <Field
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          required
          defaultValue={result?.values.email}
          error={errors.email}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={PASSWORD_MIN}
          hint={`At least ${PASSWORD_MIN} characters.`}
          error={errors.password}
        />
        <Button type="submit" className="w-full" pending={submitting} pendingLabel="Creating your account…">
          Create account
        </Button>
      </Form>
    </AuthCard>
  );
}
