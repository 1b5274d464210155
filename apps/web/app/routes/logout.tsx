import { redirect } from "@remix-run/node";
import { route } from "../lib/route.server.ts";

// Log-out is a POST (a link could be triggered by any page); a GET here just goes home.
export async function loader() {
  return redirect("/");
}

export const action = route(async ({ api }) => {
  await api.caller.auth.logOut();
  return redirect("/login");
});
