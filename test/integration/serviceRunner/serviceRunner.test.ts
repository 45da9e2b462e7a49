// ServiceRunner with real child processes: readiness, logs, a stop that leaves nothing behind
// (not even what a service forked), clear errors for commands that cannot run, and crashes
// restarted on a fake clock's backoff.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/core/events/bus.js';
import { FakeClock } from '../../../src/core/rotation/fakeClock.js';
import { ServiceError, ServiceRunner, restartDelayMs, type ServiceErrorCode, type ServiceSpec } from '../../../src/core/mesh/serviceRunner.js';
import { NODE, ServiceEvents, freePort, httpRequest, isAlive, killGroup, removeDir, tempDir, waitUntil } from './support.js';

// Listens on $PORT, forks a helper (same process group), and writes to stdout and stderr.
const WEB_JS = `
const http = require('node:http');
const { spawn } = require('node:child_process');
const helper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
console.log('helper pid ' + helper.pid);
console.error('warming up (stderr)');
http.createServer((req, res) => res.end('hello from ' + process.env.GREETING))
  .listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT));
`;
// Ignores SIGTERM, so only SIGKILL ends it.
const STUBBORN_JS = `
process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
setInterval(() => {}, 1000);
console.log('stubborn up');
`;
const IDLE_JS = `setInterval(() => {}, 1000);`;

let dir = '';
let runner: ServiceRunner | undefined;
let events: ServiceEvents | undefined;
let blocker: Server | undefined;
const stray: number[] = [];

function makeRunner(o: { clock?: FakeClock; stopGraceMs?: number } = {}): ServiceRunner {
  const bus = new EventBus();
  events = new ServiceEvents(bus);
  runner = new ServiceRunner({ bus, logDir: join(dir, 'logs'), clock: o.clock, stopGraceMs: o.stopGraceMs ?? 1_000 });
  return runner;
}

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

beforeAll(() => {
  dir = tempDir('runner');
});

afterEach(async () => {
  await runner?.stopAll();
  events?.dispose();
  runner = undefined;
  events = undefined;
  await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
  blocker = undefined;
  for (const pid of stray.splice(0)) killGroup(pid);
});

afterAll(() => removeDir(dir));

describe('ServiceRunner: start, logs, stop', () => {
  it('resolves once the port accepts, keeps the logs, and stopAll leaves no process of the group', async () => {
    const r = makeRunner();
    const port = await freePort();
    await r.start({ name: 'web', command: [NODE, script('web.js', WEB_JS)], cwd: dir, env: { PORT: String(port), GREETING: 'the runner' }, readyPort: port });

    const pid = r.pid('web');
    expect(pid).toBeGreaterThan(0);
    stray.push(pid as number);
    expect((await httpRequest(port, 'GET', '/')).text).toBe('hello from the runner');
    expect(events?.states('web')).toEqual(['starting', 'running']);
    expect(events?.all.at(-1)).toMatchObject({ service: 'web', state: 'running', pid });

    await waitUntil(() => r.logs('web').some((l) => l.includes('listening on')), 'the listening line in logs()');
    const lines = r.logs('web', 50);
    expect(lines.some((l) => l === 'warming up (stderr)')).toBe(true);
    expect(r.logs('web', 1)).toHaveLength(1);
    const helperLine = lines.find((l) => l.startsWith('helper pid '));
    const helperPid = Number(helperLine?.slice('helper pid '.length));
    expect(helperPid).toBeGreaterThan(0);
    expect(isAlive(helperPid)).toBe(true);
    const file = readFileSync(join(dir, 'logs', 'web.log'), 'utf8');
    expect(file).toContain(`listening on ${port}`);
    expect(file).toContain('warming up (stderr)');

    await r.stopAll();
    expect(isAlive(pid as number)).toBe(false);
    expect(isAlive(helperPid)).toBe(false);
    expect(r.pid('web')).toBeUndefined();
    expect(events?.states('web')).toEqual(['starting', 'running', 'stopped']);
    expect(events?.all.at(-1)).toMatchObject({ state: 'stopped', pid, signal: 'SIGTERM' });
  });

  it('SIGKILLs a service that ignores SIGTERM once the grace period is over', async () => {
    const r = makeRunner({ stopGraceMs: 300 });
    await r.start({ name: 'stubborn', command: [NODE, script('stubborn.js', STUBBORN_JS)], cwd: dir, env: {} });
    const pid = r.pid('stubborn') as number;
    stray.push(pid);
    await waitUntil(() => r.logs('stubborn').includes('stubborn up'), 'the stubborn service to start');
    const started = Date.now();
    await r.stop('stubborn');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(isAlive(pid)).toBe(false);
    expect(r.logs('stubborn')).toContain('ignoring SIGTERM');
    expect(events?.all.at(-1)).toMatchObject({ state: 'stopped', signal: 'SIGKILL' });
  });

  it('refuses a second start of a running service by name', async () => {
    const r = makeRunner();
    const spec: ServiceSpec = { name: 'idle', command: [NODE, script('idle.js', IDLE_JS)], cwd: dir, env: {} };
    await r.start(spec);
    stray.push(r.pid('idle') as number);
    await expect(r.start(spec)).rejects.toMatchObject({ code: 'already-running' });
  });
});

interface FailureCase {
  readonly name: string;
  readonly code: ServiceErrorCode;
  readonly spec: () => Promise<Omit<ServiceSpec, 'name'>>;
  /** Parts the message must hold: the command and the fix. */
  readonly message: readonly (string | RegExp)[];
  /** Whether a process was started (and must be gone). */
  readonly spawned: boolean;
}

const FAILURES: readonly FailureCase[] = [
  {
    name: 'a command that does not exist',
    code: 'command-not-found',
    spec: async () => ({ command: ['mtls-lab-no-such-command', '--serve'], cwd: dir, env: {} }),
    message: ['"mtls-lab-no-such-command" was not found on PATH', /install it, or fix the service's "command"/],
    spawned: false,
  },
  {
    name: 'a relative path that does not exist',
    code: 'command-not-found',
    spec: async () => ({ command: ['./bin/missing-server'], cwd: dir, env: {} }),
    message: ['bin/missing-server does not exist'],
    spawned: false,
  },
  {
    name: 'a file that is not executable',
    code: 'not-executable',
    spec: async () => {
      const path = script('plain.sh', '#!/bin/sh\necho hi\n');
      chmodSync(path, 0o644);
      return { command: [path], cwd: dir, env: {} };
    },
    message: ['is not executable', /chmod \+x .*plain\.sh/],
    spawned: false,
  },
  {
    name: 'a working folder that does not exist',
    code: 'bad-cwd',
    spec: async () => ({ command: [NODE, '-e', ''], cwd: join(dir, 'no-such-folder'), env: {} }),
    message: ['no-such-folder does not exist', /fix "cwd"/],
    spawned: false,
  },
  {
    name: 'a service that exits before it is ready',
    code: 'exited-before-ready',
    spec: async () => ({
      command: [NODE, '-e', "console.log('loading config'); console.error('boom: DATABASE_URL is not set'); process.exit(3)"],
      cwd: dir,
      env: {},
      readyPort: await freePort(),
    }),
    message: ['exited with code 3 before it accepted connections', 'boom: DATABASE_URL is not set', 'loading config'],
    spawned: true,
  },
  {
    name: 'a service that never listens',
    code: 'not-ready',
    spec: async () => ({ command: [NODE, script('deaf.js', "console.error('listening somewhere else'); setInterval(() => {}, 1000);")], cwd: dir, env: {}, readyPort: await freePort(), readyTimeoutMs: 400 }),
    message: ['did not accept connections', 'within 400 ms', 'listening somewhere else'],
    spawned: true,
  },
  {
    name: 'a port someone else holds',
    code: 'port-in-use',
    spec: async () => {
      const server = createServer();
      blocker = server;
      const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
      return { command: [NODE, '-e', IDLE_JS], cwd: dir, env: {}, readyPort: port };
    },
    message: ['something else already listens on 127.0.0.1:'],
    spawned: false,
  },
];

describe('ServiceRunner: services that cannot start', () => {
  it.each(FAILURES)('$name: ServiceError "$code", a failed event, nothing left running', async (c) => {
    const r = makeRunner();
    const spec = { name: 'broken', ...(await c.spec()) };
    const err: unknown = await r.start(spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ServiceError);
    const se = err as ServiceError;
    expect(se.code).toBe(c.code);
    expect(se.service).toBe('broken');
    expect(se.message).toMatch(/^runner: /);
    for (const part of c.message) {
      if (typeof part === 'string') expect(se.message).toContain(part);
      else expect(se.message).toMatch(part);
    }
    const failed = events?.all.at(-1);
    expect(failed).toMatchObject({ service: 'broken', state: 'failed', detail: se.message });
    expect(events?.states('broken')).toEqual(['starting', 'failed']);
    expect(r.pid('broken')).toBeUndefined();
    if (c.spawned) {
      expect(failed?.pid).toBeGreaterThan(0);
      expect(isAlive(failed?.pid as number)).toBe(false);
    } else {
      expect(failed?.pid).toBeUndefined();
    }
    expect(existsSync(join(dir, 'logs'))).toBe(true);
  });
});

describe('ServiceRunner: crashes', () => {
  it('restart delays double from 1 s up to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(restartDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('restarts a crashed service after 1 s, 2 s, 4 s, and after 1 s again once it had run 30 s', async () => {
    const clock = new FakeClock();
    const r = makeRunner({ clock });
    const ev = events as ServiceEvents;
    await r.start({ name: 'crashy', command: [NODE, script('crashy.js', IDLE_JS)], cwd: dir, env: {} });

    const rows: readonly { readonly name: string; readonly upMs: number; readonly delayMs: number }[] = [
      { name: 'first crash', upMs: 0, delayMs: 1_000 },
      { name: 'second crash in a row', upMs: 0, delayMs: 2_000 },
      { name: 'third crash in a row', upMs: 29_000, delayMs: 4_000 },
      { name: 'a crash after 30 s up', upMs: 30_000, delayMs: 1_000 },
    ];
    for (const row of rows) {
      clock.advance(row.upMs);
      const pid = r.pid('crashy') as number;
      stray.push(pid);
      const from = ev.mark();
      process.kill(pid, 'SIGKILL');
      const timer = await clock.waitForTimer();
      expect(timer.delayMs, row.name).toBe(row.delayMs);
      expect(ev.all.slice(from).map((e) => e.state), row.name).toEqual(['exited', 'restarting']);
      expect(ev.all[from], row.name).toMatchObject({ state: 'exited', pid, signal: 'SIGKILL', exitCode: null });
      expect(isAlive(pid)).toBe(false);

      // Not a moment early.
      clock.advance(row.delayMs - 1);
      expect(r.status('crashy').state, row.name).toBe('restarting');
      clock.advance(1);
      const running = await ev.next((e) => e.service === 'crashy' && e.state === 'running', from);
      expect(running.pid, row.name).not.toBe(pid);
      expect(ev.all.slice(from).map((e) => e.state), row.name).toEqual(['exited', 'restarting', 'starting', 'running']);
    }
    expect(r.status('crashy').restarts).toBe(4);
    expect(r.logs('crashy').filter((l) => l.includes('restarting in'))).toHaveLength(4);
  });

  it('stop() during the backoff cancels the restart', async () => {
    const clock = new FakeClock();
    const r = makeRunner({ clock });
    const ev = events as ServiceEvents;
    await r.start({ name: 'crashy', command: [NODE, '-e', IDLE_JS], cwd: dir, env: {} });
    const pid = r.pid('crashy') as number;
    stray.push(pid);
    const from = ev.mark();
    process.kill(pid, 'SIGKILL');
    await clock.waitForTimer();
    await r.stop('crashy');
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(60_000);
    expect(ev.all.slice(from).map((e) => e.state)).toEqual(['exited', 'restarting', 'stopped']);
    expect(r.pid('crashy')).toBeUndefined();
  });

  it('a service that crashes before it is ready again keeps backing off', async () => {
    const clock = new FakeClock();
    const r = makeRunner({ clock });
    const ev = events as ServiceEvents;
    const port = await freePort();
    const flag = join(dir, 'crash-next-time');
    // Listens the first time; once the flag file exists it dies at start-up.
    const body = `
      if (require('node:fs').existsSync(${JSON.stringify(flag)})) { console.error('cannot start: flag set'); process.exit(4); }
      require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');`;
    await r.start({ name: 'flaky', command: [NODE, script('flaky.js', body)], cwd: dir, env: { PORT: String(port) }, readyPort: port });
    writeFileSync(flag, '');
    const pid = r.pid('flaky') as number;
    stray.push(pid);
    const from = ev.mark();
    process.kill(pid, 'SIGKILL');
    expect((await clock.waitForTimer()).delayMs).toBe(1_000);
    clock.advance(1_000);
    await ev.next((e) => e.service === 'flaky' && e.state === 'restarting', from + 2);
    expect((await clock.waitForTimer()).delayMs).toBe(2_000);
    const second = ev.all.slice(from + 2);
    expect(second.map((e) => e.state)).toEqual(['starting', 'exited', 'restarting']);
    expect(second[1]).toMatchObject({ exitCode: 4 });
    expect(second[1]?.detail).toContain('cannot start: flag set');
  });
});
