// A reference model of credit grants (ADR 009), pure and in memory: what post_ledger
// (drizzle/0007_credit_grants.sql) must do, written the obvious way. Tests drive it and the
// database with the same commands and compare.

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
}

export type Allocation = { grantId: string; amount: number };

const byKey = (a: ModelGrant, b: ModelGrant) =>
  a.priority - b.priority ||
  (a.expiresAt ?? Number.POSITIVE_INFINITY) - (b.expiresAt ?? Number.POSITIVE_INFINITY) ||
  a.createdAt - b.createdAt ||
  a.seq - b.seq;

export function spendingOrder(grants: readonly ModelGrant[], paymentId: string | null = null): ModelGrant[] {
  const own = (g: ModelGrant) => (paymentId !== null && g.paymentId === paymentId ? 0 : 1);
  return [...grants].sort((a, b) => own(a) - own(b) || byKey(a, b));
}

export class GrantModel {
  grants: ModelGrant[] = [];
  balance = 0;
  // Expiry records, in the order they were written.
  expiries: Allocation[] = [];
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

  // A credit that creates a grant (its id decided by the caller); debt is repaid first.
  credit(grant: Omit<ModelGrant, "amount" | "remaining" | "seq">, amount: number, at: number): Allocation[] {
    this.expireDue(at);
    const repay = Math.min(amount, Math.max(-this.balance, 0));
    this.balance += amount;
    if (amount === repay) return [];
    this.grants.push({ ...grant, seq: ++this.created, amount: amount - repay, remaining: amount - repay });
    return [{ grantId: grant.id, amount: amount - repay }];
  }

  // Gives `amount` back to the grants `owed` says it was taken from, the tail (reverse spending
  // order) first; what lands on a grant past its expiry expires at once. `leftoverId` names the
  // paid grant made of what no grant is owed.
  restore(owed: ReadonlyMap<string, number>, amount: number, at: number, leftoverId: string): Allocation[] {
    this.expireDue(at);
    const repay = Math.min(amount, Math.max(-this.balance, 0));
    this.balance += amount;
    let left = amount - repay;
    const given: Allocation[] = [];
    const tail = spendingOrder(this.grants.filter((g) => (owed.get(g.id) ?? 0) > 0)).reverse();
    for (const g of tail) {
      if (left === 0) break;
      const give = Math.min(left, owed.get(g.id) ?? 0);
      left -= give;
      given.push({ grantId: g.id, amount: give });
      if (g.expiresAt !== null && g.expiresAt <= at) {
        this.expiries.push({ grantId: g.id, amount: give });
        this.balance -= give;
      } else {
        g.remaining += give;
      }
    }
    if (left > 0) {
      this.grants.push({
        id: leftoverId,
        priority: 50,
        expiresAt: null,
        createdAt: at,
        seq: ++this.created,
        amount: left,
        remaining: left,
        paymentId: null,
      });
      given.push({ grantId: leftoverId, amount: left });
    }
    return given;
  }
}

// What a hold still owes each grant: its reservation's allocations less what its releases gave back.
export function owedBy(rows: readonly Allocation[][]): Map<string, number> {
  const owed = new Map<string, number>();
  for (const row of rows) for (const a of row) owed.set(a.grantId, (owed.get(a.grantId) ?? 0) - a.amount);
  return owed;
}
