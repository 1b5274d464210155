// A reference model of credit grants (ADR 009), pure and in memory: what post_ledger
// (drizzle/0007_credit_grants.sql, 0008_grant_fixes.sql, 0017_reversal_repaid_grants.sql, 0027, 0044, 0046, 0049) must
// do, written the obvious way. Tests drive it and the database with the same commands and compare.

export interface ModelGrant {
  id: string;
  priority: number;
  expiresAt: number | null;
  createdAt: number;
  // Creation order (the creating ledger row's seq): "oldest first" on a createdAt tie.
  seq: number;
  amount: number;
  remaining: number;
  paymentId: string | null;
  // Debt its creating credit repaid (the credit less what the grant got), and how much of that
  // dispute reversals have given back since.
  repaid: number;
  repaidReturned: number;
}

export type Allocation = { grantId: string; amount: number };

type NewGrant = Omit<ModelGrant, "amount" | "remaining" | "seq" | "repaid" | "repaidReturned">;

const byKey = (a: ModelGrant, b: ModelGrant) =>
  a.priority - b.priority ||
  (a.expiresAt ?? Number.POSITIVE_INFINITY) - (b.expiresAt ?? Number.POSITIVE_INFINITY) ||
  a.createdAt - b.createdAt ||
  a.seq - b.seq;

export function spendingOrder(grants: readonly ModelGrant[], paymentId: string | null = null): ModelGrant[] {
  const own = (g: ModelGrant) => (paymentId !== null && g.paymentId === paymentId ? 0 : 1);
  return [...grants].sort((a, b) => own(a) - own(b) || byKey(a, b));
}

// What a refund or dispute did: per open hold it drew from, the hold's release (given back to
// the hold's grants) and the hold part's clawback row; then the balance part's row (null: none).
export interface ModelClawback {
  // `hold`: its index in the holds given.
  holdParts: { hold: number; release: Allocation[]; take: Allocation[] }[];
  balanceRow: Allocation[] | null;
  taken: number;
}

export class GrantModel {
  grants: ModelGrant[] = [];
  balance = 0;
  // Expiry records, in the order they were written.
  expiries: Allocation[] = [];
  // Per disputed payment, what its dispute clawbacks took from each grant and no reversal gave back.
  private disputeOwed = new Map<string, Map<string, number>>();
  private created = 0;

  live(at: number): ModelGrant[] {
    return spendingOrder(this.grants.filter((g) => g.remaining > 0 && (g.expiresAt === null || g.expiresAt > at)));
  }

  // What reads show at `at`: due grants are gone even before anything records them.
  balanceAt(at: number): number {
    const due = this.grants.filter((g) => g.remaining > 0 && g.expiresAt !== null && g.expiresAt <= at);
    return this.balance - due.reduce((sum, g) => sum + g.remaining, 0);
  }

  expireDue(at: number): void {
    const due = this.grants
      .filter((g) => g.remaining > 0 && g.expiresAt !== null && g.expiresAt <= at)
      .sort((a, b) => (a.expiresAt ?? 0) - (b.expiresAt ?? 0) || (a.id < b.id ? -1 : 1));
    for (const g of due) {
      this.expiries.push({ grantId: g.id, amount: g.remaining });
      this.balance -= g.remaining;
      g.remaining = 0;
    }
  }

  // A debit: null when refused. A debit that may overdraw leaves its shortfall as debt.
  debit(
    amount: number,
    at: number,
    options: { paymentId?: string; allowNegative?: boolean } = {},
  ): Allocation[] | null {
    this.expireDue(at);
    if (!options.allowNegative && this.balance - amount < 0) return null;
    const order = spendingOrder(
      this.grants.filter((g) => g.remaining > 0 && (g.expiresAt === null || g.expiresAt > at)),
      options.paymentId ?? null,
    );
    const taken: Allocation[] = [];
    let need = amount;
    for (const g of order) {
      if (need === 0) break;
      const take = Math.min(need, g.remaining);
      g.remaining -= take;
      need -= take;
      taken.push({ grantId: g.id, amount: -take });
    }
    if (need > 0 && !options.allowNegative) throw new Error("model: grants lack credits the balance has");
    this.balance -= amount;
    return taken;
  }

  // A credit that creates a grant (its id decided by the caller); debt is repaid first, and the
  // grant keeps the whole credit as its amount (what it repaid may come back with a reversal).
  credit(grant: NewGrant, amount: number, at: number): Allocation[] {
    this.expireDue(at);
    const repay = this.repayable(amount);
    this.balance += amount;
    this.grants.push({
      ...grant,
      seq: ++this.created,
      amount,
      remaining: amount - repay,
      repaid: repay,
      repaidReturned: 0,
    });
    return amount === repay ? [] : [{ grantId: grant.id, amount: amount - repay }];
  }

  // Gives `amount` back to the grants `owed` says it was taken from, the tail (reverse spending
  // order) first; what lands on a grant past its expiry expires at once unless `keep` (a
  // clawback's hold release). `repay: false`: none of it repays debt. `leftoverId` names the paid
  // grant made of what no grant is owed.
  restore(
    owed: ReadonlyMap<string, number>,
    amount: number,
    at: number,
    leftoverId: string,
    options: { keep?: boolean; repay?: boolean; first?: string } = {},
  ): Allocation[] {
    this.expireDue(at);
    const repay = options.repay === false ? 0 : this.repayable(amount);
    this.balance += amount;
    const given: Allocation[] = [];
    let left = this.giveOwed(owed, amount - repay, at, given, options);
    if (left > 0) left = this.leftover({ id: leftoverId, paymentId: null, expiresAt: null }, left, at, given);
    return given;
  }

  // A refund or dispute (core's clawBack): from the balance first, then from the open holds (in
  // the store's order: `holds[i].owed` what hold i still owes its grants, `available` what it can
  // give up); a refund takes no more than there is, a dispute takes the rest below zero. A hold's
  // release for it gives back the payment's grants first (0046).
  clawback(
    kind: "refund" | "dispute",
    paymentId: string,
    wanted: number,
    at: number,
    holds: readonly { owed: ReadonlyMap<string, number>; available: number }[],
  ): ModelClawback {
    const fromBalance = Math.min(wanted, Math.max(this.balanceAt(at), 0));
    let needed = wanted - fromBalance;
    const holdParts: ModelClawback["holdParts"] = [];
    holds.forEach((hold, index) => {
      const take = Math.min(needed, Math.max(hold.available, 0));
      if (take === 0) return;
      const release = this.restore(hold.owed, take, at, "none", { keep: true, repay: false, first: paymentId });
      const back = release.map(({ grantId, amount }) => ({ grantId, amount: -amount }));
      for (const a of back) this.grant(a.grantId).remaining += a.amount;
      this.balance -= take;
      if (kind === "dispute") this.owe(paymentId, back);
      holdParts.push({ hold: index, release, take: back });
      needed -= take;
    });
    const fromHolds = wanted - fromBalance - needed;
    const taken = kind === "dispute" ? wanted : wanted - needed;
    const rest = taken - fromHolds;
    const balanceRow = rest === 0 ? null : this.debit(rest, at, { paymentId, allowNegative: kind === "dispute" });
    if (kind === "dispute" && balanceRow) this.owe(paymentId, balanceRow);
    return { holdParts, balanceRow, taken };
  }

  // A dispute reversal of `amount` credits of `paymentId`: it repays debt first; then gives back
  // what the payment's dispute clawbacks took from grants (the tail first); then debt those
  // clawbacks took that later credits repaid, to those credits' grants (latest first, at most
  // what each repaid and no reversal gave back yet); the rest is a paid grant of the payment with
  // its purchase's expiry. What lands on a grant past its expiry expires at once.
  reverse(paymentId: string, amount: number, at: number, leftoverId: string): Allocation[] {
    this.expireDue(at);
    const repay = this.repayable(amount);
    this.balance += amount;
    const given: Allocation[] = [];
    const owed = this.disputeOwed.get(paymentId) ?? new Map<string, number>();
    // Its clawbacks took the payment's grant first: it is given back last (0049).
    let left = this.giveOwed(owed, amount - repay, at, given, { last: paymentId });
    for (const a of given) owed.set(a.grantId, (owed.get(a.grantId) ?? 0) - a.amount);
    const latest = [...this.grants].sort(
      (a, b) => b.createdAt - a.createdAt || b.seq - a.seq || (a.id < b.id ? 1 : -1),
    );
    const repaidOwed = new Map(
      latest.map((g) => [g.id, Math.min(g.amount - g.remaining, g.repaid - g.repaidReturned)]),
    );
    for (const g of latest) {
      const give = Math.min(left, repaidOwed.get(g.id) ?? 0);
      if (give <= 0) continue;
      left -= give;
      g.repaidReturned += give;
      this.give(g, give, at, given, false);
    }
    const bought = this.grants.find((g) => g.paymentId === paymentId);
    if (left > 0) this.leftover({ id: leftoverId, paymentId, expiresAt: bought?.expiresAt ?? null }, left, at, given);
    return given;
  }

  private repayable(amount: number): number {
    return Math.min(amount, Math.max(-this.balance, 0));
  }

  private grant(id: string): ModelGrant {
    const found = this.grants.find((g) => g.id === id);
    if (!found) throw new Error(`model: no grant ${id}`);
    return found;
  }

  private owe(paymentId: string, taken: readonly Allocation[]): void {
    const owed = this.disputeOwed.get(paymentId) ?? new Map<string, number>();
    for (const a of taken) owed.set(a.grantId, (owed.get(a.grantId) ?? 0) - a.amount);
    this.disputeOwed.set(paymentId, owed);
  }

  // `first`: a payment whose grants are given back before the tail (a clawback's hold release);
  // `last`: one whose grants are given back after it (a reversal of the payment's clawbacks).
  private giveOwed(
    owed: ReadonlyMap<string, number>,
    amount: number,
    at: number,
    given: Allocation[],
    { keep = false, first, last }: { keep?: boolean; first?: string; last?: string },
  ) {
    let left = amount;
    const rank = (g: ModelGrant) => (g.paymentId === first ? 0 : g.paymentId === last ? 2 : 1);
    const tail = spendingOrder(this.grants.filter((g) => (owed.get(g.id) ?? 0) > 0))
      .reverse()
      .sort((a, b) => rank(a) - rank(b));
    for (const g of tail) {
      if (left === 0) break;
      const give = Math.min(left, owed.get(g.id) ?? 0);
      left -= give;
      this.give(g, give, at, given, keep);
    }
    return left;
  }

  // One row gives a grant credits in one allocation, and what of them expires at once in one
  // expiry row (keyed by the grant and that row, 0044): a second give to the same grant (a
  // reversal's second pass) adds to both.
  private give(g: ModelGrant, give: number, at: number, given: Allocation[], keep: boolean): void {
    const earlier = given.find((a) => a.grantId === g.id);
    if (earlier) earlier.amount += give;
    else given.push({ grantId: g.id, amount: give });
    g.remaining += give;
    if (!keep && g.expiresAt !== null && g.expiresAt <= at) {
      const expiry = earlier && this.expiries.findLast((e) => e.grantId === g.id);
      if (expiry) expiry.amount += give;
      else this.expiries.push({ grantId: g.id, amount: give });
      this.balance -= give;
      g.remaining -= give;
    }
  }

  private leftover(
    grant: Pick<ModelGrant, "id" | "paymentId" | "expiresAt">,
    amount: number,
    at: number,
    given: Allocation[],
  ): number {
    const made: ModelGrant = {
      ...grant,
      priority: 50,
      createdAt: at,
      seq: ++this.created,
      amount,
      remaining: 0,
      repaid: 0,
      repaidReturned: 0,
    };
    this.grants.push(made);
    this.give(made, amount, at, given, false);
    return 0;
  }
}

// What a hold still owes each grant: its reservation's allocations less what its releases gave back.
export function owedBy(rows: readonly Allocation[][]): Map<string, number> {
  const owed = new Map<string, number>();
  for (const row of rows) for (const a of row) owed.set(a.grantId, (owed.get(a.grantId) ?? 0) - a.amount);
  return owed;
}
