// OpenSSL as the independent judge of our certificates: `openssl verify` in strict mode for both
// TLS purposes, a real mutual-TLS handshake between `openssl s_server` and `openssl s_client`
// holding our SVIDs, and `mtls-lab issue --csr` with a key and request that OpenSSL made.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../../src/core/ca/authority.js';
import { SpiffeId, TrustDomain } from '../../../src/core/spiffe/index.js';
import {
  PeerProcess,
  PortInUseError,
  buildCli,
  describeRun,
  firstPemCertificate,
  looksLikePortInUse,
  removeDir,
  requireTool,
  run,
  stopAll,
  tempDir,
  uriSans,
  withFreePort,
  writeSvid,
  type RunResult,
  type SvidFiles,
  CA_CASES,
  type CaCase,
} from './helpers.js';

const TD = TrustDomain.parse('lab.local');
const SERVER_ID = 'spiffe://lab.local/ns/default/sa/server';
const CLIENT_ID = 'spiffe://lab.local/ns/default/sa/client';


/** One CA's material on disk: the bundle and a server and a client SVID. */
interface Pki {
  readonly bundle: string;
  readonly server: SvidFiles;
  readonly client: SvidFiles;
  /** A client SVID for CLIENT_ID from another CA of the same trust domain (an impostor). */
  readonly rogueClient: SvidFiles;
}

let openssl = '';

function makePki(parent: string, c: CaCase): Pki {
  const dir = join(parent, c.name.replace(/[^a-z0-9]+/gi, '-'));
  const ca = CertificateAuthority.create({ trustDomain: TD, keyType: c.keyType, intermediate: c.intermediate });
  const rogue = CertificateAuthority.create({ trustDomain: TD, keyType: c.keyType, intermediate: c.intermediate });
  const bundle = join(dir, 'bundle.pem');
  const server = writeSvid(join(dir, 'server'), ca.issue({ id: SpiffeId.parse(SERVER_ID), ttlMs: 3_600_000, dnsNames: ['localhost'], now: new Date() }), ca.bundlePem());
  const client = writeSvid(join(dir, 'client'), ca.issue({ id: SpiffeId.parse(CLIENT_ID), ttlMs: 3_600_000, now: new Date() }), ca.bundlePem());
  const rogueClient = writeSvid(join(dir, 'rogue'), rogue.issue({ id: SpiffeId.parse(CLIENT_ID), ttlMs: 3_600_000, now: new Date() }), rogue.bundlePem());
  writeFileSync(bundle, ca.bundlePem());
  return { bundle, server, client, rogueClient };
}

/** `-cert`/`-key` (and `-cert_chain` for the intermediates: s_server and s_client read only the first certificate of `-cert`). */
function credentials(svid: SvidFiles, intermediate: boolean): string[] {
  return ['-cert', svid.leaf, '-key', svid.key, ...(intermediate ? ['-cert_chain', svid.chain] : [])];
}

function opensslVerify(purpose: string, bundle: string, svid: SvidFiles, intermediate: boolean): Promise<RunResult> {
  // svid.pem exactly as written: openssl verifies its first certificate and finds the intermediate in -untrusted.
  const untrusted = intermediate ? ['-untrusted', svid.cert] : [];
  return run(openssl, ['verify', '-x509_strict', '-purpose', purpose, '-CAfile', bundle, ...untrusted, svid.cert], { timeoutMs: 5_000 });
}

describe('openssl verify accepts our X.509-SVIDs (real peers)', () => {
  const pkis = new Map<string, Pki>();
  let dir = '';

  beforeAll(() => {
    openssl = requireTool('openssl');
    dir = tempDir('openssl-verify');
    for (const c of CA_CASES) pkis.set(c.name, makePki(dir, c));
  });

  afterAll(async () => {
    await stopAll();
    removeDir(dir);
  });

  const rows = CA_CASES.flatMap((c) =>
    (['sslclient', 'sslserver'] as const).flatMap((purpose) =>
      (['server', 'client'] as const).map((who) => ({ name: `${c.name}: ${who} SVID for -purpose ${purpose}`, c, purpose, who })),
    ),
  );

  it.each(rows)('$name', async ({ c, purpose, who }) => {
    const pki = pkis.get(c.name) as Pki;
    const r = await opensslVerify(purpose, pki.bundle, pki[who], c.intermediate);
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout.trim(), describeRun(r)).toBe(`${pki[who].cert}: OK`);
  });

  it.each(CA_CASES.map((c) => ({ name: `${c.name}: an impostor SVID from another CA is refused`, c })))('$name', async ({ c }) => {
    const pki = pkis.get(c.name) as Pki;
    const r = await opensslVerify('sslclient', pki.bundle, pki.rogueClient, c.intermediate);
    expect(r.code, describeRun(r)).not.toBe(0);
    expect(r.stdout + r.stderr, describeRun(r)).toMatch(/unable to get (local )?issuer certificate|unable to verify the first certificate|certificate signature failure/);
  });
});

interface Handshake {
  readonly client: RunResult;
  readonly server: PeerProcess;
}

const PING = 'ping from s_client';

/** s_server demanding a client certificate (-Verify 1 -verify_return_error), one s_client connection, both with our SVIDs. */
async function handshake(pki: Pki, intermediate: boolean, tls: '1.2' | '1.3', client: SvidFiles): Promise<Handshake> {
  const server = await withFreePort(async (port) => {
    const s = new PeerProcess(openssl, [
      's_server',
      '-accept', `127.0.0.1:${port}`,
      '-naccept', '1',
      ...credentials(pki.server, intermediate),
      '-CAfile', pki.bundle,
      '-Verify', '1',
      '-verify_return_error',
    ]);
    try {
      await s.waitFor((p) => /^ACCEPT$/m.test(p.stdout) || looksLikePortInUse(p.output), 'ACCEPT');
    } catch (err) {
      await s.stop();
      throw err;
    }
    if (looksLikePortInUse(s.output)) {
      await s.stop();
      throw new PortInUseError(s.output);
    }
    return { s, port };
  });
  const c = await run(
    openssl,
    [
      's_client',
      '-connect', `127.0.0.1:${server.port}`,
      `-tls${tls.replace('.', '_')}`,
      '-servername', 'localhost',
      '-verify_hostname', 'localhost',
      '-CAfile', pki.bundle,
      '-verify_return_error',
      ...credentials(client, intermediate),
    ],
    { input: `${PING}\n`, timeoutMs: 5_000 },
  );
  // -naccept 1: s_server ends once that one connection closes; it is killed if it does not.
  await server.s.waitForExit(3_000);
  return { client: c, server: server.s };
}

describe('openssl s_server and s_client complete mutual TLS with our SVIDs (real peers)', () => {
  const pkis = new Map<string, Pki>();
  let dir = '';

  beforeAll(() => {
    openssl = requireTool('openssl');
    dir = tempDir('openssl-tls');
    for (const c of CA_CASES) pkis.set(c.name, makePki(dir, c));
  });

  afterAll(async () => {
    await stopAll();
    removeDir(dir);
  });

  const rows = CA_CASES.flatMap((c) => (['1.2', '1.3'] as const).map((tls) => ({ name: `${c.name}, TLS ${tls}`, c, tls })));

  it.each(rows)('$name', async ({ c, tls }) => {
    const pki = pkis.get(c.name) as Pki;
    const { client, server } = await handshake(pki, c.intermediate, tls, pki.client);
    const context = `${describeRun(client)}\n--- s_server:\n${server.output}`;
    // The client verified the server: chain to the bundle and the DNS SAN "localhost".
    expect(client.code, context).toBe(0);
    expect(client.stdout, context).toContain('Verify return code: 0 (ok)');
    expect(uriSans(firstPemCertificate(client.stdout) ?? ''), context).toEqual([SERVER_ID]);
    // The server demanded, received and verified the client certificate, then got application data.
    expect(server.stdout, context).toContain('Client certificate');
    expect(uriSans(firstPemCertificate(server.stdout) ?? ''), context).toEqual([CLIENT_ID]);
    expect(server.output, context).not.toMatch(/verify error/i);
    expect(server.stdout, context).toContain(PING);
  });

  it.each(CA_CASES.map((c) => ({ name: `${c.name}: s_server refuses an impostor client SVID from another CA`, c })))('$name', async ({ c }) => {
    const pki = pkis.get(c.name) as Pki;
    const { client, server } = await handshake(pki, c.intermediate, '1.3', pki.rogueClient);
    const context = `${describeRun(client)}\n--- s_server:\n${server.output}`;
    expect(server.output, context).toMatch(/verify error:num=(2|7|20|21):/);
    expect(server.stdout, context).not.toContain(PING);
  });
});

interface CliCase {
  readonly name: string;
  readonly init: readonly string[];
  readonly intermediate: boolean;
}

const CLI_CASES: readonly CliCase[] = [
  { name: 'ca init (EC, root only)', init: [], intermediate: false },
  { name: 'ca init --intermediate', init: ['--intermediate'], intermediate: true },
  { name: 'ca init --key-type rsa-2048', init: ['--key-type', 'rsa-2048'], intermediate: false },
  { name: 'ca init --key-type rsa-2048 --intermediate', init: ['--key-type', 'rsa-2048', '--intermediate'], intermediate: true },
];

interface CsrCase {
  readonly name: string;
  readonly newkey: readonly string[];
  readonly keyLabel: RegExp;
}

const CSR_CASES: readonly CsrCase[] = [
  { name: 'EC P-256 key from openssl req', newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], keyLabel: /id-ecPublicKey/ },
  { name: 'RSA-2048 key from openssl req', newkey: ['-newkey', 'rsa:2048'], keyLabel: /rsaEncryption/ },
];

describe('mtls-lab CLI output read by openssl (real peers)', () => {
  let cli = '';
  let dir = '';
  const node = process.execPath;

  const mtlsLab = (args: readonly string[]): Promise<RunResult> => run(node, [cli, ...args], { timeoutMs: 15_000 });

  beforeAll(async () => {
    openssl = requireTool('openssl');
    dir = tempDir('cli');
    cli = await buildCli(dir);
  });

  afterAll(async () => {
    await stopAll();
    removeDir(dir);
  });

  it.each(CLI_CASES)('$name, then issue: openssl verify -x509_strict accepts svid.pem for both purposes', async (c) => {
    const state = join(dir, c.name.replace(/[^a-z0-9]+/gi, '-'));
    const out = join(state, 'out');
    const init = await mtlsLab(['ca', 'init', '--state', state, ...c.init]);
    expect(init.code, describeRun(init)).toBe(0);
    const issued = await mtlsLab(['issue', SERVER_ID, '--state', state, '--out', out, '--ttl', '1h', '--dns', 'localhost']);
    expect(issued.code, describeRun(issued)).toBe(0);
    const files = { cert: join(out, 'svid.pem'), bundle: join(out, 'svid_bundle.pem') };
    for (const purpose of ['sslclient', 'sslserver']) {
      const untrusted = c.intermediate ? ['-untrusted', files.cert] : [];
      const r = await run(openssl, ['verify', '-x509_strict', '-purpose', purpose, '-CAfile', files.bundle, ...untrusted, files.cert], { timeoutMs: 5_000 });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.stdout.trim(), describeRun(r)).toBe(`${files.cert}: OK`);
    }
  });

  it.each(CSR_CASES)('issue --csr with an $name: one URI SAN (ours), the CSR public key, no key file', async (c) => {
    const work = join(dir, `csr-${c.name.replace(/[^a-z0-9]+/gi, '-')}`);
    const state = join(work, 'state');
    const out = join(work, 'out');
    const key = join(work, 'key.pem');
    const csr = join(work, 'req.csr');
    const init = await mtlsLab(['ca', 'init', '--state', state]);
    expect(init.code, describeRun(init)).toBe(0);
    // A request that asks for everything it must not get: another identity, a DNS name, CA:TRUE.
    const req = await run(
      openssl,
      [
        'req', '-new', ...c.newkey, '-nodes', '-keyout', key, '-out', csr,
        '-subj', '/O=Evil Corp/CN=admin',
        '-addext', 'subjectAltName=URI:spiffe://evil.example/ns/admin/sa/root,DNS:evil.example',
        '-addext', 'basicConstraints=critical,CA:TRUE',
      ],
      { timeoutMs: 10_000 },
    );
    expect(req.code, describeRun(req)).toBe(0);
    const id = 'spiffe://lab.local/ns/default/sa/from-csr';
    const issued = await mtlsLab(['issue', id, '--state', state, '--out', out, '--csr', csr]);
    expect(issued.code, describeRun(issued)).toBe(0);
    const cert = join(out, 'svid.pem');
    expect(existsSync(join(out, 'svid_key.pem')), 'issue --csr must not write svid_key.pem').toBe(false);

    const certKey = await run(openssl, ['x509', '-in', cert, '-noout', '-pubkey'], { timeoutMs: 5_000 });
    const csrKey = await run(openssl, ['req', '-in', csr, '-noout', '-pubkey'], { timeoutMs: 5_000 });
    expect(certKey.code, describeRun(certKey)).toBe(0);
    expect(csrKey.code, describeRun(csrKey)).toBe(0);
    expect(certKey.stdout).toContain('-----BEGIN PUBLIC KEY-----');
    expect(certKey.stdout).toBe(csrKey.stdout);

    const text = await run(openssl, ['x509', '-in', cert, '-noout', '-text'], { timeoutMs: 5_000 });
    expect(text.code, describeRun(text)).toBe(0);
    expect(text.stdout).toMatch(c.keyLabel);
    expect(text.stdout).toContain('CA:FALSE');
    expect(text.stdout).not.toMatch(/evil|Evil Corp|admin/);
    expect(uriSans(readFileSync(cert))).toEqual([id]);

    const verify = await run(openssl, ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', join(out, 'svid_bundle.pem'), cert], { timeoutMs: 5_000 });
    expect(verify.code, describeRun(verify)).toBe(0);
    // The issued certificate and OpenSSL's private key belong together.
    const pair = await run(openssl, ['pkey', '-in', key, '-pubout'], { timeoutMs: 5_000 });
    expect(pair.stdout).toBe(certKey.stdout);
  });
});
