// A state the code's own rules make impossible (a posting under a lock that was not applied, a row
// that must exist). Not a domain error: it answers 500, is logged, and means a bug or a database
// that broke its constraints; the transaction around it rolls back.
export class InvariantViolationError extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = "InvariantViolationError";
  }
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolationError(message);
}
