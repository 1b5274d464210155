import { type ActionFunctionArgs, redirect } from "@remix-run/node";
import { apiFor } from "../lib/api.server.ts";

// Log-out is a POST (a link could be triggered by any page); a GET here just goes home.
export async function loader() {
  return redirect("/");
}

export async function action({ request, context }: ActionFunctionArgs) {
  const api = apiFor(request, context);
  await api.caller.auth.logOut();
  return redirect("/login", { headers: api.headers() });
}
