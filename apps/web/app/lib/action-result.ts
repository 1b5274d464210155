import { useActionData, useLocation } from "@remix-run/react";
import { useState } from "react";

type ActionResult<Action> = ReturnType<typeof useActionData<Action>>;

// A form's result (the action's data) for as long as the page stays where the action left it.
// Remix clears actionData on any later reload of the same page, and the live balance reloads the
// page whenever the user's ledger changes (live-balance.ts): a result shown once, such as a new API
// key or a webhook endpoint's signing secret, went with the next spend made through the API. Kept
// here until the next navigation (a new location) or the next action's own result. Forgotten at
// the first navigation, not only hidden: Back to the action's history entry brings its key again,
// and the route's component (and this state) stays mounted between pages of the same route.
export function useActionResult<Action>(): ActionResult<Action> {
  const current = useActionData<Action>();
  const { key } = useLocation();
  const [kept, setKept] = useState<{ key: string; result: ActionResult<Action> }>();
  if (current !== undefined) {
    if (kept?.result !== current || kept.key !== key) setKept({ key, result: current });
    return current;
  }
  if (kept && kept.key !== key) {
    setKept(undefined);
    return undefined;
  }
  return kept?.result;
}
