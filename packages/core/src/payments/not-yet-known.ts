// A charge or dispute event for a payment whose provider ids we have not learned yet (its
// checkout event is still on its way). Answered with a 5xx so the provider delivers it again.
export class PaymentNotYetKnownError extends Error {
  constructor(ref: string) {
    super(`no payment known for ${ref} yet`);
    this.name = "PaymentNotYetKnownError";
  }
}
