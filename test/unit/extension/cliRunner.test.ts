// The CLI as a child process: the argument contract (issue/ca/inspect), exit codes turned into
// the CLI's own sentences, and, where dist/cli.js is built, the real CLI end to end.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caTrustDomain, CliError, currentRuntime, ensureCa, hasCa, inspectFile, issueSvid, processCliRunner, trustBundle } from '../../../src/extension/cliRunner.js';

const root = join(__dirname, '..', '..', '..');
const fakeCli = join(__dirname, 'fixtures', 'fake-cli.mjs');
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mtls-ext-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fake(mode: string) {
  const argsFile = join(dir, 'args');
  const cli = processCliRunner({ command: process.execPath, env: { ...process.env, FAKE_MODE: mode, FAKE_ARGS_FILE: argsFile } }, fakeCli);
  const calls = (): string[][] => (existsSync(argsFile) ? readFileSync(argsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : []);
  return { cli, calls };
}

describe('CLI runner (stand-in CLI)', () => {
  it('issues with the state folder, TTL and output folder, and reads the JSON', async () => {
    const { cli, calls } = fake('issue');
    const svid = await issueSvid(cli, { stateDir: '/s', spiffeId: 'spiffe://lab.local/ns/default/sa/api', outDir: '/w/api', ttl: '2m' });
    expect(calls()).toEqual([['issue', 'spiffe://lab.local/ns/default/sa/api', '--state', '/s', '--ttl', '2m', '--out', '/w/api', '--json']]);
    expect(svid.files.cert).toBe('/w/api/svid.pem');
    expect(Date.parse(svid.notAfter) - Date.parse(svid.notBefore)).toBe(120_000);
  });

  it('makes a CA only when the state folder has none', async () => {
    const { cli, calls } = fake('issue');
    expect(await ensureCa(cli, join(dir, 'state'), 'example.org', 'rsa-2048')).toBe(true);
    expect(calls()).toEqual([['ca', 'init', '--state', join(dir, 'state'), '--trust-domain', 'example.org', '--key-type', 'rsa-2048']]);
    mkdirSync(join(dir, 'state', 'ca'), { recursive: true });
    writeFileSync(join(dir, 'state', 'ca', 'ca.json'), JSON.stringify({ trustDomain: 'example.org' }));
    expect(await ensureCa(cli, join(dir, 'state'), 'example.org', 'rsa-2048')).toBe(false);
    expect(calls()).toHaveLength(1);
    expect(caTrustDomain(join(dir, 'state'))).toBe('example.org');
  });

  it('turns a failed run into the CLI\'s own sentence', async () => {
    const { cli } = fake('fail');
    const err = await inspectFile(cli, '/nope.pem').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).result.code).toBe(1);
    expect((err as Error).message).toMatch(/^a mesh is already running/);
  });

  it('reports a CLI that cannot be run at all', async () => {
    const cli = processCliRunner({ command: join(dir, 'no-such-node'), env: {} }, fakeCli);
    const r = await cli.run(['inspect', 'x']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/could not run the CLI/);
  });

  it('currentRuntime runs the host binary as Node', () => {
    const r = currentRuntime({ PATH: '/bin' });
    expect(r.command).toBe(process.execPath);
    expect(r.env).toEqual({ PATH: '/bin', ELECTRON_RUN_AS_NODE: '1' });
  });
});

describe.skipIf(!existsSync(join(root, 'dist', 'cli.js')))('CLI runner (the real dist/cli.js)', () => {
  it('init, issue into a folder, inspect, export the bundle: one code path writes the CA', async () => {
    const cli = processCliRunner(currentRuntime(), join(root, 'dist', 'cli.js'));
    const state = join(dir, 'state');
    expect(hasCa(state)).toBe(false);
    expect(await ensureCa(cli, state, 'lab.local', 'ec-p256')).toBe(true);
    expect(caTrustDomain(state)).toBe('lab.local');
    const out = join(dir, 'my-api');
    const svid = await issueSvid(cli, { stateDir: state, spiffeId: 'spiffe://lab.local/ns/default/sa/my-api', outDir: out, ttl: '2m' });
    expect(svid.spiffeId).toBe('spiffe://lab.local/ns/default/sa/my-api');
    expect(Date.parse(svid.notAfter) - Date.parse(svid.notBefore)).toBeGreaterThanOrEqual(120_000);
    for (const f of ['svid.pem', 'svid_key.pem', 'svid_bundle.pem']) expect(existsSync(join(out, f))).toBe(true);
    if (process.platform !== 'win32') expect(statSync(join(out, 'svid_key.pem')).mode & 0o777).toBe(0o600);
    expect(await inspectFile(cli, join(out, 'svid.pem'))).toContain('spiffe://lab.local/ns/default/sa/my-api');
    expect(await trustBundle(cli, state, 'pem')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(JSON.parse(await trustBundle(cli, state, 'spiffe'))).toHaveProperty('keys');
  });
});
