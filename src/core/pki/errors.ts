/** Codes a caller can switch on; nobody parses message strings. */
export type PkiErrorCode =
  | 'bad-pem'
  | 'bad-certificate'
  | 'bad-key'
  | 'bad-csr'
  | 'csr-signature'
  | 'unsupported-key'
  | 'bad-ttl';

/** A certificate, key or CSR that cannot be used, with a message that names the problem and the fix. */
export class PkiError extends Error {
  override readonly name = 'PkiError';
  constructor(
    readonly code: PkiErrorCode,
    message: string,
  ) {
    super(message);
  }
}
