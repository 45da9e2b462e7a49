// What happens to services when the daemon goes away: a daemon that exits (normally or by an
// uncaught error) takes them with it; a daemon killed with SIGKILL leaves them running with what
// they hold, since nothing but the daemon ties them to it.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NODE, freePort, httpRequest, isAlive, killGroup, removeDir, tempDir, waitUntil } from './support.js';

const SERVICE_JS = `require('node:http').createServer((q, s) => s.end('still here')).listen(Number(process.env.PORT), '127.0.0.1');`;

let dir = '';
let harness = '';
let service = '';
const stray: number[] = [];

beforeAll(async () => {
  dir = tempDir('parent-exit');
  harness = join(dir, 'harness.cjs');
  await build({ entryPoints: [join(__dirname, 'harness.ts')], outfile: harness, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'silent' });
  service = join(dir, 'service.js');
  writeFileSync(service, SERVICE_JS);
});

afterEach(() => {
  for (const pid of stray.splice(0)) killGroup(pid);
});

afterAll(() => removeDir(dir));

interface Daemon {
  readonly pid: number;
  readonly servicePid: number;
  readonly exited: Promise<void>;
  /** Tells the harness to end the way it was asked to. */
  readonly go: () => void;
}

/** Runs the harness until it prints the service's pid. */
function startDaemon(how: string, port: number): Promise<Daemon> {
  return new Promise((done, fail) => {
    const child = spawn(NODE, [harness, dir, service, String(port), how], { stdio: ['pipe', 'pipe', 'pipe'] });
    stray.push(child.pid as number);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`the harness printed no pid within 10 s.\n${out}\n${err}`)), 10_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n')[0];
      if (!out.includes('\n') || !line) return;
      clearTimeout(timer);
      const servicePid = (JSON.parse(line) as { pid: number }).pid;
      stray.push(servicePid);
      done({ pid: child.pid as number, servicePid, exited, go: () => child.stdin.write('go\n') });
    });
    child.once('error', fail);
  });
}

const CASES = [
  { name: 'the daemon exits normally', how: 'exit', kill: false, serviceSurvives: false },
  { name: 'the daemon dies of an uncaught error', how: 'throw', kill: false, serviceSurvives: false },
  { name: 'the daemon is killed with SIGKILL', how: 'hang', kill: true, serviceSurvives: true },
] as const;

describe('ServiceRunner: when the daemon goes away', () => {
  it.each(CASES)('$name: service keeps running = $serviceSurvives', async (c) => {
    const port = await freePort();
    const d = await startDaemon(c.how, port);
    expect(isAlive(d.servicePid)).toBe(true);
    expect((await httpRequest(port, 'GET', '/')).text).toBe('still here');
    if (c.kill) process.kill(d.pid, 'SIGKILL');
    else d.go();
    await d.exited;
    if (c.serviceSurvives) {
      // Give a pipe-bound child time to die of it; this one has none.
      await new Promise((r) => setTimeout(r, 300));
      expect(isAlive(d.servicePid)).toBe(true);
      expect((await httpRequest(port, 'GET', '/')).text).toBe('still here');
    } else {
      await waitUntil(() => !isAlive(d.servicePid), `service pid ${d.servicePid} to end with its daemon`, 3_000);
    }
  });
});
