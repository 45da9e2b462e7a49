// Helpers for tests that talk to real TLS peers (openssl, nginx, curl) on 127.0.0.1. Every child
// process is bounded in time, tracked, and killed with its whole process group when the test
// ends, so a failing assertion or a hung peer never leaves an orphan behind.
import { spawn, type ChildProcess } from 'node:child_process';
import type { KeyType } from '../../../src/core/pki/keys.js';
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { build } from 'esbuild';
import type { IssuedSvid } from '../../../src/core/ca/authority.js';
import { writeSvidFiles, type SvidPaths } from '../../../src/core/ca/svidFiles.js';
import { toPem } from '../../../src/core/pki/pem.js';

export const LOCALHOST = '127.0.0.1';

/** The absolute path of a tool, or an error telling the reader how CI installs it. Never a skip. */
export function requireTool(name: string, extraDirs: readonly string[] = []): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs, '/usr/sbin', '/usr/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  throw new Error(`peers: "${name}" is not installed, and the real-peer tests need it; run "bash .ci/run" (it installs openssl, curl and nginx) or install it with apt-get.`);
}

/** A fresh directory under the OS temp folder; remove it with `removeDir`. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `mtls-lab-${prefix}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** A port that was free a moment ago on 127.0.0.1 (listen on 0, read it, close). Pair with `withFreePort` for the race. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOCALHOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('peers: the OS gave no port.'))));
    });
  });
}

/** Thrown by a `withFreePort` starter when the peer lost the race for its port. */
export class PortInUseError extends Error {}

const ADDRESS_IN_USE = /address already in use|EADDRINUSE|\(98:/i;

export function looksLikePortInUse(output: string): boolean {
  return ADDRESS_IN_USE.test(output);
}

/** Runs `start` on a free port, and again on another one when it throws `PortInUseError` (someone took the port in between). */
export async function withFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (!(err instanceof PortInUseError)) throw err;
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error('peers: no free port after several attempts.');
}

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly input?: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  readonly command: string;
  /** Exit code, or null when a signal ended the process. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** A finished command with its exit and output, for assertion messages. */
export function describeRun(r: RunResult): string {
  return `${r.command}\n  exit ${r.code ?? 'signal'}${r.timedOut ? ' (timed out)' : ''}\n  stdout: ${r.stdout.trim()}\n  stderr: ${r.stderr.trim()}`;
}

/** Every peer started and not yet exited. */
const live = new Set<PeerProcess>();

/** A long-running child: its output so far, its exit, and `stop()` that always ends it and its group. */
export class PeerProcess {
  stdout = '';
  stderr = '';
  exitCode: number | null | undefined = undefined;
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly command: string,
    args: readonly string[],
    o: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    // Own process group, so stop() reaches anything the peer forks (e.g. nginx workers).
    this.child = spawn(command, [...args], { cwd: o.cwd, env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    live.add(this);
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.notify();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.notify();
    });
    // stdin stays open: openssl s_server treats EOF on stdin as "quit".
    this.child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      const done = (code: number | null): void => {
        if (this.exitCode !== undefined) return;
        this.exitCode = code;
        live.delete(this);
        this.notify();
        resolve();
      };
      this.child.once('error', (err) => {
        this.stderr += `\n${err.message}`;
        done(-1);
      });
      this.child.once('close', (code) => done(code));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get output(): string {
    return `${this.stdout}\n${this.stderr}`;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Writes `text` to stdin and closes it. */
  endInput(text = ''): void {
    this.child.stdin?.end(text);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Resolves once `test` holds for the output; rejects if the process exits first or time runs out. */
  waitFor(test: (p: PeerProcess) => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (test(this)) finish();
        else if (!this.running) finish(new Error(`peers: ${this.command} exited (code ${String(this.exitCode)}) before ${what}.\n${this.output.trim()}`));
      };
      const timer = setTimeout(() => finish(new Error(`peers: ${this.command} did not reach "${what}" within ${timeoutMs} ms.\n${this.output.trim()}`)), timeoutMs);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Resolves when the process has exited, killing it after `timeoutMs`. */
  async waitForExit(timeoutMs = 5_000): Promise<number | null | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (this.running) await this.stop();
    return this.exitCode;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the process is gone. Safe to call twice. */
  async stop(graceMs = 2_000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.exited, grace]);
    clearTimeout(timer);
    if (this.running) {
      this.signal('SIGKILL');
      await this.exited;
    }
  }

  /** Signals the process group (our own child's id), falling back to the child alone. */
  signal(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        this.child.kill(sig);
      } catch {
        // already gone
      }
    }
  }
}

// Last resort if the test process itself ends early: no peer outlives it.
process.once('exit', () => {
  for (const p of live) p.signal('SIGKILL');
});

/** Stops every peer still running (for afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** Runs a command to completion with a deadline (then SIGKILL), capturing its output. Never rejects for a non-zero exit. */
export async function run(command: string, args: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  const p = new PeerProcess(command, args, { cwd: o.cwd, env: o.env });
  p.endInput(o.input ?? '');
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true;
      resolve();
    }, o.timeoutMs ?? 10_000);
  });
  await Promise.race([p.exited, deadline]);
  clearTimeout(timer);
  if (p.running) await p.stop(0);
  return { command: [command, ...args].join(' '), code: p.exitCode ?? null, stdout: p.stdout, stderr: p.stderr, timedOut };
}

/**
 * Resolves once something accepts TCP connections on 127.0.0.1:port (or `probe` says yes); rejects
 * when `peer` exits first or time runs out, with `PortInUseError` when the peer says the port is taken.
 */
export async function waitForPort(
  port: number,
  o: { timeoutMs?: number; peer?: PeerProcess; probe?: (port: number) => Promise<boolean> } = {},
): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 5_000);
  for (;;) {
    if (o.peer && looksLikePortInUse(o.peer.output)) {
      await o.peer.stop();
      throw new PortInUseError(`peers: port ${port} was taken before ${o.peer.command} could listen on it.`);
    }
    if (o.peer && !o.peer.running) {
      throw new Error(`peers: ${o.peer.command} exited (code ${String(o.peer.exitCode)}) before it listened on ${port}.\n${o.peer.output.trim()}`);
    }
    const ok = await (o.probe ?? tcpAccepts)(port);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`peers: nothing accepted connections on ${LOCALHOST}:${port} within ${o.timeoutMs ?? 5_000} ms.${o.peer ? `\n${o.peer.output.trim()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host: LOCALHOST, port });
    socket.setTimeout(500);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/**
 * A probe for `waitForPort`: true once a TLS server on the port presents `leafDer`, so a stranger
 * that grabbed the port first is not mistaken for our peer. No client certificate is sent.
 */
export function presentsCertificate(leafDer: Buffer): (port: number) => Promise<boolean> {
  return (port) =>
    new Promise<boolean>((resolve) => {
      const socket = tlsConnect({ host: LOCALHOST, port, servername: 'localhost', rejectUnauthorized: false });
      socket.setTimeout(1_000);
      const done = (ok: boolean): void => {
        socket.destroy();
        resolve(ok);
      };
      socket.once('secureConnect', () => done(socket.getPeerCertificate().raw?.equals(leafDer) ?? false));
      socket.once('timeout', () => done(false));
      socket.once('error', () => done(false));
    });
}

/** svid.pem etc. as the CLI writes them, plus leaf.pem and chain.pem (the intermediates) for tools that take them apart. */
export interface SvidFiles extends SvidPaths {
  readonly dir: string;
  readonly leaf: string;
  /** The intermediates only; an empty file for a root-only CA. */
  readonly chain: string;
  readonly id: string;
}

/** Writes an issued SVID into `dir` with the project's own writer, and the split files next to it. */
export function writeSvid(dir: string, svid: IssuedSvid, bundlePem: string): SvidFiles {
  const paths = writeSvidFiles(dir, svid, bundlePem);
  const leaf = join(dir, 'leaf.pem');
  const chain = join(dir, 'chain.pem');
  writeFileSync(leaf, toPem('CERTIFICATE', svid.chain[0] as Buffer));
  writeFileSync(chain, svid.chain.slice(1).map((d) => toPem('CERTIFICATE', d)).join(''));
  return { ...paths, dir, leaf, chain, id: svid.spiffeId };
}

/** The URI SANs of a PEM or DER certificate, in order. */
export function uriSans(cert: string | Buffer): string[] {
  const san = new X509Certificate(cert).subjectAltName ?? '';
  return san
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/** The first PEM certificate block in `text`, if any. */
export function firstPemCertificate(text: string): string | undefined {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  return m ? `${m[0]}\n` : undefined;
}

/** Bundles the CLI from source (as `npm run build` does) into `outDir`, so the tests run today's code, not a stale dist/. */
export async function buildCli(outDir: string): Promise<string> {
  const outfile = join(outDir, 'cli.cjs');
  await build({
    entryPoints: [join(__dirname, '..', '..', '..', 'src', 'cli', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'silent',
  });
  return outfile;
}

/** A CA setup the real peers are checked against. */
export interface CaCase {
  readonly name: string;
  readonly keyType: KeyType;
  readonly intermediate: boolean;
}

export const CA_CASES: readonly CaCase[] = [
  { name: 'EC P-256, root only', keyType: 'ec-p256', intermediate: false },
  { name: 'EC P-256, root + intermediate', keyType: 'ec-p256', intermediate: true },
  { name: 'RSA-2048, root only', keyType: 'rsa-2048', intermediate: false },
  { name: 'RSA-2048, root + intermediate', keyType: 'rsa-2048', intermediate: true },
];
