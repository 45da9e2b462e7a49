import { join } from 'node:path';
import { ensureDir, PRIVATE_DIR, PRIVATE_FILE, PUBLIC_FILE, writeFilesAtomic, type FileToWrite } from '../fs/atomic.js';
import { toPem } from '../pki/pem.js';
import type { IssuedSvid } from './authority.js';

/** File names as spiffe-helper writes them. */
export const SVID_FILE = 'svid.pem';
export const SVID_KEY_FILE = 'svid_key.pem';
export const SVID_BUNDLE_FILE = 'svid_bundle.pem';

export interface SvidPaths {
  readonly cert: string;
  readonly key: string;
  readonly bundle: string;
}

export function svidPaths(dir: string): SvidPaths {
  return { cert: join(dir, SVID_FILE), key: join(dir, SVID_KEY_FILE), bundle: join(dir, SVID_BUNDLE_FILE) };
}

/**
 * Writes svid_key.pem (0600, first), svid.pem (leaf + intermediates) and svid_bundle.pem. Every
 * file is staged before any is replaced, so a failure leaves the previous set whole.
 */
export function writeSvidFiles(dir: string, svid: IssuedSvid, bundlePem: string): SvidPaths {
  ensureDir(dir, PRIVATE_DIR);
  const paths = svidPaths(dir);
  const files: FileToWrite[] = [];
  if (svid.key) files.push({ path: paths.key, data: toPem('PRIVATE KEY', svid.key.pkcs8), mode: PRIVATE_FILE });
  files.push({ path: paths.cert, data: svid.chain.map((d) => toPem('CERTIFICATE', d)).join(''), mode: PUBLIC_FILE });
  files.push({ path: paths.bundle, data: bundlePem, mode: PUBLIC_FILE });
  writeFilesAtomic(files);
  return paths;
}
