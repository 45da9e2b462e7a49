// The one rule about what a page may see: no key material, ever. Snapshots carry the key file's
// path by design, never its contents; this check is the last line before anything is posted.

const PRIVATE_KEY_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
// A JWK private key: an object with "d" next to the curve or modulus fields.
const PRIVATE_JWK = /"d"\s*:\s*"[A-Za-z0-9_-]{16,}"/;

/** True when `value` (as JSON) holds a PEM private key or a private JWK anywhere inside it. */
export function containsKeyMaterial(value: unknown): boolean {
  let text: string | undefined;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    return true; // cannot be checked, so it is not sent
  }
  if (text === undefined) return false;
  return PRIVATE_KEY_PEM.test(text) || PRIVATE_JWK.test(text);
}
