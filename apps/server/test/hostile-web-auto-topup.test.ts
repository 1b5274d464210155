// The /account auto top-up form against choices the server refuses, through the real server
// serving the built web app: a currency with no amount cap configured (every top-up would stop at
// the cap) is said plainly on the form (400), as are hostile field values; nothing is saved.
import { describe, expect, it } from "vitest";
import { postForm, signUp, startWebServer } from "./hostile-web-helpers.ts";

// No amount cap in USD, the seeded packs' currency.
const server = await startWebServer("production", {
  AUTO_TOPUP_MAX_AMOUNT_PER_DAY_MINOR: "eur:20000",
  AUTO_TOPUP_MAX_AMOUNT_PER_MONTH_MINOR: "eur:100000",
});
const base = server.url;

async function starterPack(): Promise<string> {
  const { packages } = (await (await fetch(`${base}/api/v1/packages`)).json()) as { packages: { id: string }[] };
  return packages[0]?.id ?? "";
}

const saveAutoTopUp = (cookie: string, fields: Record<string, string>) =>
  postForm(base, "/account", { intent: "autoTopUp", enabled: "on", threshold: "50", ...fields }, { cookie });

const settingsOf = async (cookie: string) =>
  (await (await fetch(`${base}/api/v1/me/auto-topup`, { headers: { cookie } })).json()) as { packageId: string | null };

describe("the /account auto top-up form", () => {
  it("a currency with no amount cap configured: 400 with the form saying so, nothing saved", async () => {
    const user = await signUp(base);
    const reply = await saveAutoTopUp(user.cookie, { packageId: await starterPack(), currency: "usd" });
    expect(reply.status).toBe(400);
    expect(await reply.text()).toContain("Auto top-up is not available in USD: choose another currency or pack.");
    expect((await settingsOf(user.cookie)).packageId).toBeNull();
  });

  it("hostile values: 400 on the form, never a 500 or a saved choice", async () => {
    const user = await signUp(base);
    const packageId = await starterPack();
    const hostile: Record<string, string>[] = [
      { packageId, currency: "__proto__" },
      { packageId, currency: "constructor" },
      { packageId, currency: "usd\u0000" },
      { packageId, threshold: "1e3" },
      { packageId: "../../admin", currency: "usd" },
      { packageId: `${packageId}' OR '1'='1` },
    ];
    for (const fields of hostile) {
      const reply = await saveAutoTopUp(user.cookie, fields);
      expect(reply.status, JSON.stringify(fields)).toBe(400);
      expect(await reply.text()).toMatch(/Enter a whole number of credits|is not available in|not priced in/);
    }
    expect((await settingsOf(user.cookie)).packageId).toBeNull();
  });
});
