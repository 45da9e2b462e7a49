// Helpers for the tests that run real services: temp folders, free ports, liveness checks that
// see through zombies, bounded waits, and a recorder of 'service/state' events.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EventBus } from '../../../src/core/events/bus.js';
import type { ServiceEvent } from '../../../src/core/events/types.js';

export const NODE = process.execPath;
export const SAMPLES_DIR = resolve(__dirname, '..', '..', '..', 'sample-services');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `mtls-lab-${prefix}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      server.close(() => (port > 0 ? done(port) : fail(new Error('support: the OS gave no port.'))));
    });
  });
}

/** process.kill(pid, 0), except that a zombie (dead, not yet reaped by a slow init) counts as dead. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Kills a process group left by a failed test; never throws. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** Polls `check` every 20 ms until it returns true; throws after `timeoutMs` naming `what`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`support: ${what} did not happen within ${timeoutMs} ms.`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Records every 'service/state' event on a bus and lets a test wait for the next matching one. */
export class ServiceEvents {
  readonly all: ServiceEvent[] = [];
  private readonly waiters = new Set<{ from: number; match: (e: ServiceEvent) => boolean; resolve: (e: ServiceEvent) => void }>();
  readonly dispose: () => void;

  constructor(bus: EventBus) {
    this.dispose = bus.on((e) => {
      if (e.type !== 'service/state') return;
      this.all.push(e);
      for (const w of [...this.waiters]) {
        if (w.match(e)) {
          this.waiters.delete(w);
          w.resolve(e);
        }
      }
    });
  }

  /** The states of `service` in order. */
  states(service: string): string[] {
    return this.all.filter((e) => e.service === service).map((e) => e.state);
  }

  /** How many events there are so far: pass it to `next` to wait only for later ones. */
  mark(): number {
    return this.all.length;
  }

  /** The first event at index >= `from` that matches, now or when it comes; rejects after `timeoutMs`. */
  next(match: (e: ServiceEvent) => boolean, from: number, timeoutMs = 5_000): Promise<ServiceEvent> {
    const seen = this.all.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((done, fail) => {
      const waiter = {
        from,
        match,
        resolve: (e: ServiceEvent) => {
          clearTimeout(timer);
          done(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        fail(new Error(`support: no matching service event within ${timeoutMs} ms; saw ${JSON.stringify(this.all.slice(from).map((e) => [e.service, e.state, e.detail]))}.`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

/** One plain HTTP request to 127.0.0.1 on a fresh connection. */
export function httpRequest(port: number, method: string, path: string, body?: unknown, timeoutMs = 5_000): Promise<HttpAnswer> {
  return new Promise((done, fail) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { host: '127.0.0.1', port, method, path, agent: false, timeout: timeoutMs, headers: payload ? { 'content-type': 'application/json' } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          done({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text, json });
        });
        res.on('error', fail);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`support: ${method} ${path} on port ${port} had no answer within ${timeoutMs} ms.`)));
    req.on('error', fail);
    req.end(payload);
  });
}

export interface NodeRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node script args` to completion (SIGKILL after `timeoutMs`), with `env` added to ours. */
export function runNode(script: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 10_000): Promise<NodeRun> {
  return new Promise((done) => {
    const child = spawn(NODE, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
