export type { SpiffeErrorCode } from './errors.js';
export { SpiffeError } from './errors.js';
export { MAX_TRUST_DOMAIN_BYTES, SPIFFE_SCHEME, TrustDomain } from './trustDomain.js';
export { MAX_SPIFFE_ID_BYTES, SpiffeId, parseWorkloadId, workloadId } from './spiffeId.js';
