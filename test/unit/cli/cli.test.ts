import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { caBundle, caInit } from '../../../src/cli/commands/ca.js';
import { inspect } from '../../../src/cli/commands/inspect.js';
import { issue } from '../../../src/cli/commands/issue.js';
import { verify } from '../../../src/cli/commands/verify.js';
import { attack } from '../../../src/cli/commands/attack.js';
import { caRotate } from '../../../src/cli/commands/caRotate.js';
import { up } from '../../../src/cli/commands/up.js';
import type { CliIo } from '../../../src/cli/io.js';
import { runCli } from '../../../src/cli/run.js';

const commands = { caInit, caBundle, caRotate, issue, inspect, verify, up, attack };

interface Result {
  code: number;
  out: string;
  err: string;
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mtls-lab-cli-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function lab(args: string[], env: Record<string, string> = {}, now = new Date()): Promise<Result> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => (out += t), err: (t) => (err += t), env: { HOME: root, ...env }, cwd: root, now: () => now };
  const code = await runCli(args, commands, io);
  return { code, out, err };
}

function expectUsage(r: Result, pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.out).toBe('');
  // One line naming the problem and the fix, never a stack trace.
  expect(r.err.trim().split('\n')).toHaveLength(1);
  expect(r.err).toMatch(pattern);
  expect(r.err).not.toMatch(/\n\s+at /);
}

const ORDERS = 'spiffe://lab.local/ns/default/sa/orders';

describe('mtls-lab CLI', () => {
  it('prints usage and exits 2 with no command, 0 with --help', async () => {
    const none = await lab([]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('Usage:');
    const help = await lab(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('mtls-lab verify CERT --bundle FILE');
  });

  const usageCases = [
    { name: 'unknown command', args: ['frobnicate'], err: /unknown command "frobnicate"/ },
    { name: 'unknown ca subcommand', args: ['ca', 'burn'], err: /unknown "ca" subcommand/ },
    { name: 'unknown flag', args: ['ca', 'init', '--colour'], err: /--colour.*usage: mtls-lab ca init/ },
    { name: 'bad key type', args: ['ca', 'init', '--key-type', 'dsa'], err: /unknown key type "dsa"; use --key-type ec-p256/ },
    { name: 'bad trust domain', args: ['ca', 'init', '--trust-domain', 'Lab.Local'], err: /spiffe: trust domain/ },
    { name: 'malformed SPIFFE ID', args: ['issue', 'spiffe://lab.local/a//b'], err: /spiffe: / },
    { name: 'trust domain root as SVID ID', args: ['issue', 'spiffe://lab.local'], err: /spiffe: / },
    { name: 'issue without an ID', args: ['issue'], err: /missing argument; usage: mtls-lab issue ID/ },
    { name: 'bad duration', args: ['issue', ORDERS, '--ttl', '5 minutes'], err: /duration: "5 minutes" is not a duration; .*90s, 5m, 1h/ },
    { name: 'bad DNS name', args: ['issue', ORDERS, '--dns', 'bad name!'], err: /"bad name!" is not a DNS name/ },
    { name: 'unreadable CSR', args: ['issue', ORDERS, '--csr', 'nope.csr'], err: /cannot read CSR file "nope.csr"/ },
    { name: 'missing CA', args: ['issue', ORDERS, '--state', 'empty-state'], err: /no CA in .*mtls-lab ca init/ },
    { name: 'bundle format', args: ['ca', 'bundle', '--format', 'xml'], err: /use --format pem or --format spiffe/ },
    { name: 'inspect a missing file', args: ['inspect', 'missing.pem'], err: /cannot read certificate file "missing.pem"/ },
    { name: 'verify without a bundle', args: ['verify', 'x.pem'], err: /missing --bundle FILE/ },
    { name: 'verify with --id and --trust-domain', args: ['verify', 'x.pem', '--bundle', 'b.pem', '--id', ORDERS, '--trust-domain', 'lab.local'], err: /give --id or --trust-domain, not both/ },
  ];
  for (const c of usageCases) {
    it(`exits 2 on ${c.name}`, async () => {
      expectUsage(await lab(c.args, { MTLS_LAB_STATE: join(root, 'state-none') }), c.err);
    });
  }

  describe('with a CA', () => {
    const state = (): string => join(root, 'state');
    beforeAll(async () => {
      const r = await lab(['ca', 'init', '--state', state(), '--intermediate']);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('Created a CA for trust domain lab.local');
    });

    it('refuses a second ca init without --force (exit 1) and keeps the CA', async () => {
      const before = readFileSync(join(state(), 'ca', 'root.pem'), 'utf8');
      const r = await lab(['ca', 'init', '--state', state()]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/already exists.*--force/);
      expect(readFileSync(join(state(), 'ca', 'root.pem'), 'utf8')).toBe(before);
    });

    it('finds the state folder through $MTLS_LAB_STATE and XDG_STATE_HOME', async () => {
      expect((await lab(['ca', 'bundle'], { MTLS_LAB_STATE: state() })).code).toBe(0);
      const xdg = join(root, 'xdg');
      expect((await lab(['ca', 'init'], { XDG_STATE_HOME: xdg })).code).toBe(0);
      expect(existsSync(join(xdg, 'mtls-lab', 'ca', 'root.pem'))).toBe(true);
    });

    it('issues into --out: key 0600 first, leaf + intermediate, bundle', async () => {
      const out = join(root, 'out-orders');
      const r = await lab(['issue', ORDERS, '--state', state(), '--out', out, '--ttl', '10m', '--dns', 'localhost']);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`Issued ${ORDERS}`);
      expect(r.out).toMatch(/\((10m|9m\d+s) left\)/);
      expect(readdirSync(out).sort()).toEqual(['svid.pem', 'svid_bundle.pem', 'svid_key.pem']);
      expect(statSync(join(out, 'svid_key.pem')).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(out, 'svid.pem'), 'utf8').match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
      const ok = await lab(['verify', join(out, 'svid.pem'), '--bundle', join(out, 'svid_bundle.pem'), '--id', ORDERS]);
      expect(ok.code, ok.out + ok.err).toBe(0);
      expect(ok.out).toMatch(/^OK: /);
      const wrong = await lab(['verify', join(out, 'svid.pem'), '--bundle', join(out, 'svid_bundle.pem'), '--id', 'spiffe://lab.local/ns/default/sa/payments', '--json']);
      expect(wrong.code).toBe(1);
      expect(JSON.parse(wrong.out)).toMatchObject({ valid: false, reason: 'unexpected-id', spiffeId: ORDERS });
    });

    it('verifies against a SPIFFE bundle as well as PEM', async () => {
      const out = join(root, 'out-spiffe');
      expect((await lab(['issue', ORDERS, '--state', state(), '--out', out])).code).toBe(0);
      const bundle = await lab(['ca', 'bundle', '--state', state(), '--format', 'spiffe']);
      const doc = JSON.parse(bundle.out) as { keys: { use: string; x5c: string[] }[]; spiffe_sequence: number };
      expect(doc.keys.map((k) => k.use)).toEqual(['x509-svid']);
      writeFileSync(join(root, 'bundle.json'), bundle.out);
      const r = await lab(['verify', join(out, 'svid.pem'), '--bundle', join(root, 'bundle.json'), '--trust-domain', 'lab.local']);
      expect(r.code, r.out + r.err).toBe(0);
    });

    it('reports an expired certificate as exit 1 with how long ago', async () => {
      const out = join(root, 'out-short');
      const past = new Date(Date.now() - 3_600_000);
      expect((await lab(['issue', ORDERS, '--state', state(), '--out', out, '--ttl', '5m'], {}, past)).code).toBe(0);
      const r = await lab(['verify', join(out, 'svid.pem'), '--bundle', join(out, 'svid_bundle.pem'), '--json']);
      expect(r.code).toBe(1);
      const v = JSON.parse(r.out) as { reason: string; detail: string };
      expect(v.reason).toBe('expired');
      expect(v.detail).toMatch(/ago/);
    });

    it('inspects a chain for people and for machines', async () => {
      const out = join(root, 'out-inspect');
      await lab(['issue', ORDERS, '--state', state(), '--out', out]);
      const human = await lab(['inspect', join(out, 'svid.pem')]);
      expect(human.code).toBe(0);
      for (const s of ['Leaf (X.509-SVID)', `SPIFFE ID   ${ORDERS}`, 'Intermediate CA', 'EC P-256', 'left)', 'Serial']) expect(human.out).toContain(s);
      const json = JSON.parse((await lab(['inspect', join(out, 'svid.pem'), '--json'])).out) as { spiffeId: string; secondsLeft: number; certificates: unknown[] };
      expect(json.spiffeId).toBe(ORDERS);
      expect(json.secondsLeft).toBeGreaterThan(3500);
      expect(json.certificates).toHaveLength(2);
      expectUsage(await lab(['inspect', join(out, 'svid_key.pem')]), /holds a private key, not a certificate/);
      writeFileSync(join(root, 'junk.pem'), 'hello');
      expectUsage(await lab(['inspect', join(root, 'junk.pem')]), /holds no PEM certificate/);
      writeFileSync(join(root, 'cut.pem'), readFileSync(join(out, 'svid.pem'), 'utf8').slice(0, 300));
      expectUsage(await lab(['inspect', join(root, 'cut.pem')]), /truncated/);
    });

    it('issues from a CSR: only its public key is used, the ID is the command line one, no key file', async () => {
      const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
      const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
      const csr = await x509.Pkcs10CertificateRequestGenerator.create({
        name: 'CN=admin, O=Evil Corp',
        keys,
        signingAlgorithm: alg,
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'spiffe://lab.local/admin' }, { type: 'dns', value: 'bank.example' }])],
      });
      writeFileSync(join(root, 'req.csr'), csr.toString('pem'));
      const out = join(root, 'out-csr');
      const r = await lab(['issue', ORDERS, '--state', state(), '--out', out, '--csr', join(root, 'req.csr')]);
      expect(r.code, r.err).toBe(0);
      expect(existsSync(join(out, 'svid_key.pem'))).toBe(false);
      const leaf = new X509Certificate(readFileSync(join(out, 'svid.pem')));
      expect(leaf.subjectAltName).toBe(`URI:${ORDERS}`);
      expect(leaf.subject).not.toContain('Evil');
      const spki = Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey));
      expect(leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'der' }))).toBe(true);

      const pem = csr.toString('pem');
      const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      der[der.length - 5] = (der[der.length - 5] as number) ^ 0xff; // corrupt the signature
      writeFileSync(join(root, 'bad.csr'), der);
      expectUsage(await lab(['issue', ORDERS, '--state', state(), '--out', join(root, 'out-bad'), '--csr', join(root, 'bad.csr')]), /signature on .* does not match|not a PKCS#10/);
      expect(existsSync(join(root, 'out-bad'))).toBe(false);
    });

    it('rotates the CA offline: the new root signs, the old one stays trusted until its SVIDs expire', async () => {
      const st = join(root, 'state-rotate');
      expect((await lab(['ca', 'init', '--state', st])).code).toBe(0);
      const before = join(root, 'rot-before');
      expect((await lab(['issue', ORDERS, '--state', st, '--out', before])).code).toBe(0);
      const r = await lab(['ca', 'rotate', '--state', st]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/now signs/);
      expect(r.out).toMatch(/stays trusted until/);
      const bundle = (await lab(['ca', 'bundle', '--state', st])).out;
      expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
      writeFileSync(join(root, 'rot-bundle.pem'), bundle);
      const after = join(root, 'rot-after');
      expect((await lab(['issue', ORDERS, '--state', st, '--out', after])).code).toBe(0);
      for (const dir of [before, after]) {
        const v = await lab(['verify', join(dir, 'svid.pem'), '--bundle', join(root, 'rot-bundle.pem'), '--id', ORDERS]);
        expect(v.code, v.out).toBe(0);
      }
      expect(readFileSync(join(before, 'svid.pem'), 'utf8')).not.toBe(readFileSync(join(after, 'svid.pem'), 'utf8'));
      const issuerOf = (dir: string): string => new X509Certificate(readFileSync(join(dir, 'svid.pem'))).issuer;
      // Each CA generation has a name of its own, so logs and peers can tell the roots apart.
      expect(issuerOf(before)).not.toBe(issuerOf(after));
      const verifyOld = await lab(['verify', join(before, 'svid.pem'), '--bundle', join(after, 'svid_bundle.pem')]);
      expect(verifyOld.code, verifyOld.out).toBe(0);
    });

    it('fails cleanly (exit 1, nothing half-written) when --out cannot be written', async () => {
      const blocker = join(root, 'a-file');
      writeFileSync(blocker, 'x');
      const r = await lab(['issue', ORDERS, '--state', state(), '--out', join(blocker, 'sub')]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^mtls-lab: .+; choose a folder you can write/);
    });
  });
});
