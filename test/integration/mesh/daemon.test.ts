import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeshSnapshot } from '../../../src/protocol/snapshot.js';
import { ROOT } from './support.js';

const exec = promisify(execFile);
const CLI = join(ROOT, 'dist', 'cli.js');

interface Daemon {
  readonly child: ChildProcess;
  readonly stateDir: string;
  readonly dashboard: string;
  readonly entry: string;
  readonly port: number;
  readonly token: string;
  output(): string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `mtls-lab up` as a user runs it: a real process, until it prints the Entry line. */
async function up(args: string[] = []): Promise<Daemon> {
  const stateDir = mkdtempSync(join(tmpdir(), 'mtls-lab-up-'));
  const child = spawn(process.execPath, [CLI, 'up', '--state', stateDir, '--no-open', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await until('the Entry line', () => /Entry: /.test(out) || child.exitCode !== null, 30_000);
  const dash = /Dashboard: (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]+))\n/.exec(out);
  const entry = /Entry: (http:\/\/127\.0\.0\.1:\d+\/)\n/.exec(out);
  if (!dash || !entry) throw new Error(`mtls-lab up did not print its Dashboard and Entry lines:\n${out}`);
  return { child, stateDir, dashboard: dash[1] as string, port: Number(dash[2]), token: dash[3] as string, entry: entry[1] as string, output: () => out };
}

async function state(d: Daemon): Promise<MeshSnapshot> {
  const res = await fetch(`http://127.0.0.1:${d.port}/api/state`, { headers: { authorization: `Bearer ${d.token}` } });
  return (await res.json()) as MeshSnapshot;
}

const groupsOf = (s: MeshSnapshot): number[] => s.services.map((x) => x.pid).filter((p): p is number => typeof p === 'number');

function killGroups(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describe('mtls-lab up (real daemon process)', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await up(['--ttl', '30s']);
  }, 40_000);
  afterAll(async () => {
    const pids = await state(d).then(groupsOf, () => []);
    d.child.kill('SIGKILL');
    killGroups(pids);
    rmSync(d.stateDir, { recursive: true, force: true });
  });

  it('prints the contract lines and keeps daemon.json 0600 with port and token', () => {
    const info = JSON.parse(readFileSync(join(d.stateDir, 'daemon.json'), 'utf8')) as { port: number; token: string; pid: number };
    expect(statSync(join(d.stateDir, 'daemon.json')).mode & 0o777).toBe(0o600);
    expect(info).toMatchObject({ port: d.port, token: d.token, pid: d.child.pid });
    expect(statSync(join(d.stateDir, 'ca', 'root_key.pem')).mode & 0o777).toBe(0o600);
  });

  it('serves /api/state only with the token, only to its own Host, without key material', async () => {
    expect((await fetch(`http://127.0.0.1:${d.port}/api/state`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${d.port}/api/state`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const rebinding = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: evil.example', '-H', `Authorization: Bearer ${d.token}`, `http://127.0.0.1:${d.port}/api/state`]);
    expect(['403', '421']).toContain(rebinding.stdout);
    const s = await state(d);
    expect(s.trustDomain).toBe('lab.local');
    expect(s.services.map((x) => x.name).sort()).toEqual(['billing', 'frontend', 'inventory', 'orders', 'payments']);
    for (const svc of s.services) {
      expect(svc.spiffeId).toBe(`spiffe://lab.local/ns/default/sa/${svc.name}`);
      expect(svc.serial).toMatch(/^[0-9a-f]{32}$/);
      expect(Date.parse(svc.notAfter) - Date.parse(svc.notBefore)).toBe(60_000);
      expect(svc.files.key).toBe(join(d.stateDir, 'svids', svc.name, 'svid_key.pem'));
      if (!svc.entry) expect(svc.meshPort).toBeGreaterThan(0);
    }
    expect(JSON.stringify(s)).not.toContain('PRIVATE KEY');
  });

  it('answers through the entry, and reports every attack as rejected (exit 0, JSON)', async () => {
    const order = await fetch(`${d.entry}api/order`, { method: 'POST', body: '{}' });
    expect(order.status).toBe(200);
    for (const scenario of ['impostor-no-cert', 'rogue-ca', 'expired-replay', 'unauthorized', 'plaintext']) {
      const r = await exec(process.execPath, [CLI, 'attack', scenario, '--state', d.stateDir, '--json']);
      expect(JSON.parse(r.stdout)).toMatchObject({ scenario, rejected: true });
    }
    const bad = await exec(process.execPath, [CLI, 'attack', 'teleport', '--state', d.stateDir]).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2 });
  }, 30_000);

  it('restarts a crashed service', async () => {
    const before = (await state(d)).services.find((s) => s.name === 'payments');
    process.kill(before?.pid as number, 'SIGKILL');
    await until('payments to come back with a new pid', async () => {
      const now = (await state(d)).services.find((s) => s.name === 'payments');
      return now?.state === 'running' && now.pid !== before?.pid;
    });
    const order = await fetch(`${d.entry}api/order`, { method: 'POST', body: '{}' });
    expect(order.status).toBe(200);
  }, 30_000);

  it('when the daemon dies, the services keep serving with the certificates they hold', async () => {
    const s = await state(d);
    const inventory = s.services.find((x) => x.name === 'inventory');
    d.child.kill('SIGKILL');
    await until('the daemon to exit', () => d.child.exitCode !== null || d.child.signalCode !== null);
    const orders = join(d.stateDir, 'svids', 'orders');
    const r = await exec('curl', ['-sS', '--max-time', '5', '--cacert', join(orders, 'svid_bundle.pem'), '--cert', join(orders, 'svid.pem'), '--key', join(orders, 'svid_key.pem'), `https://localhost:${inventory?.meshPort}/api/items`]);
    expect(JSON.parse(r.stdout)).toMatchObject({ servedBy: 'inventory' });
    killGroups(groupsOf(s));
  }, 30_000);
});

describe('mtls-lab up: bad input and clean stops (real daemon process)', () => {
  it('stops every child on Ctrl-C and removes daemon.json', async () => {
    const d = await up();
    try {
      const pids = groupsOf(await state(d));
      expect(pids.length).toBe(5);
      d.child.kill('SIGINT');
      await until('the daemon to stop', () => d.child.exitCode !== null);
      expect(d.child.exitCode).toBe(0);
      expect(d.output()).toContain('Stopped.');
      for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
      expect(() => statSync(join(d.stateDir, 'daemon.json'))).toThrow();
    } finally {
      d.child.kill('SIGKILL');
      rmSync(d.stateDir, { recursive: true, force: true });
    }
  }, 40_000);

  const cases: { name: string; args: (dir: string, port: number) => string[]; code: number; err: RegExp }[] = [
    { name: 'a port in use', args: (_dir, port) => ['--port', String(port)], code: 1, err: /port \d+ on 127\.0\.0\.1 is in use; choose another with --port/ },
    { name: 'a malformed config', args: (dir) => ['--config', join(dir, 'bad.json')], code: 2, err: /services\[0\]/ },
    { name: 'a config that does not exist', args: (dir) => ['--config', join(dir, 'missing.json')], code: 2, err: /missing\.json/ },
    { name: 'a service command that does not exist', args: (dir) => ['--config', join(dir, 'nocmd.json')], code: 1, err: /no-such-program/ },
    { name: 'a bad TTL', args: () => ['--ttl', 'forever'], code: 2, err: /duration: "forever" is not a duration/ },
  ];
  let blocker: Server;
  let blockedPort: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    blockedPort = (blocker.address() as { port: number }).port;
  });
  afterAll(() => blocker.close());
  for (const c of cases) {
    it(`refuses ${c.name} with one clear line and leaves nothing running`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mtls-lab-bad-'));
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ services: [{ name: 'Bad Name!', command: ['node'] }] }));
      writeFileSync(join(dir, 'nocmd.json'), JSON.stringify({ services: [{ name: 'ghost', command: ['no-such-program'], entry: true }] }));
      try {
        const r = await exec(process.execPath, [CLI, 'up', '--state', join(dir, 'state'), '--no-open', ...c.args(dir, blockedPort)], { timeout: 30_000 }).then(
          () => ({ code: 0, stderr: '' }),
          (e: { code: number; stderr: string }) => e,
        );
        expect(r.code).toBe(c.code);
        expect(r.stderr).toMatch(c.err);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(() => statSync(join(dir, 'state', 'daemon.json'))).toThrow();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 40_000);
  }
});
