import type { SpiffeId } from '../spiffe/index.js';

/** An authorization answer that can say which rule made it and why. */
export interface Decision {
  readonly allowed: boolean;
  /** The rule's name, e.g. "orders-to-billing", or "default-deny" / "permissive-plaintext". */
  readonly rule: string;
  /** A sentence for people: "spiffe://…/orders may call billing (rule orders-to-billing)". */
  readonly explanation: string;
}

/** Decides whether `caller` may call the workload `callee`. `caller` is undefined for plaintext (permissive mode only). */
export type Authorizer = (caller: SpiffeId | undefined, callee: SpiffeId) => Decision;
