import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFilesAtomic } from '../../../src/core/fs/atomic.js';

const dirs: string[] = [];
const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'mtls-lab-atomic-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('atomic writes', () => {
  it('writes a file with its exact mode whatever the umask, leaving no temp file', () => {
    const d = temp();
    const old = process.umask(0o077);
    try {
      writeFileAtomic(join(d, 'a.pem'), 'A', 0o644);
      writeFileAtomic(join(d, 'k.pem'), 'K', 0o600);
    } finally {
      process.umask(old);
    }
    expect(statSync(join(d, 'a.pem')).mode & 0o777).toBe(0o644);
    expect(statSync(join(d, 'k.pem')).mode & 0o777).toBe(0o600);
    expect(readdirSync(d).sort()).toEqual(['a.pem', 'k.pem']);
  });

  it('replaces nothing when staging a later file fails', () => {
    const d = temp();
    writeFileSync(join(d, 'key.pem'), 'old key');
    expect(() =>
      writeFilesAtomic([
        { path: join(d, 'key.pem'), data: 'new key', mode: 0o600 },
        { path: join(d, 'missing-dir', 'cert.pem'), data: 'new cert', mode: 0o644 },
      ]),
    ).toThrow();
    expect(readFileSync(join(d, 'key.pem'), 'utf8')).toBe('old key');
    expect(readdirSync(d)).toEqual(['key.pem']);
  });

  it('puts the earlier files back when a later rename fails, so the pair never mixes', () => {
    const d = temp();
    writeFileSync(join(d, 'key.pem'), 'old key');
    // A folder where the certificate should go: staging works, the rename fails (EISDIR).
    mkdirSync(join(d, 'cert.pem'));
    expect(() =>
      writeFilesAtomic([
        { path: join(d, 'key.pem'), data: 'new key', mode: 0o600 },
        { path: join(d, 'cert.pem'), data: 'new cert', mode: 0o644 },
      ]),
    ).toThrow();
    expect(readFileSync(join(d, 'key.pem'), 'utf8')).toBe('old key');
    expect(readdirSync(d).sort()).toEqual(['cert.pem', 'key.pem']);
  });
});
