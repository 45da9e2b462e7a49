// Real peers for the sidecar tests, all on 127.0.0.1: a plain HTTP backend that counts every byte
// it receives (the proof that a refused caller reached nothing), sources whose SVID and bundle the
// test can change, an event recorder, and raw HTTP clients (plain and TLS) that report exactly
// what came back, even when the connection was cut.
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { EventBus } from '../../../src/core/events/bus.js';
import type { MeshEvent, RejectionEvent } from '../../../src/core/events/types.js';
import type { SvidMaterial, X509BundleSource, X509SvidSource } from '../../../src/core/pki/source.js';
import type { Authorizer } from '../../../src/core/policy/types.js';
import type { SpiffeId } from '../../../src/core/spiffe/index.js';

export const LOCALHOST = '127.0.0.1';

/** A certificate chain and key as a test CA or the real CA hands them out. */
export interface ChainAndKey {
  readonly chainPem: string;
  readonly keyPem: string;
}

/** SvidMaterial for a chain (leaf first) and its key. */
export function material(c: ChainAndKey): SvidMaterial {
  const leaf = new X509Certificate(c.chainPem);
  const uri = /URI:([^,\s]+)/.exec(leaf.subjectAltName ?? '')?.[1] ?? '';
  return {
    spiffeId: uri,
    certChainPem: c.chainPem,
    keyPem: c.keyPem,
    serial: leaf.serialNumber.toLowerCase(),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
  };
}

/** An SVID source the test rotates: `set` swaps the SVID and tells the listeners, as the Rotator does. */
export class TestSvidSource implements X509SvidSource {
  private readonly listeners = new Set<() => void>();
  constructor(private svid: SvidMaterial) {}
  current(): SvidMaterial {
    return this.svid;
  }
  set(svid: SvidMaterial): void {
    this.svid = svid;
    for (const l of [...this.listeners]) l();
  }
  onDidChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A bundle source keyed by trust domain name; `set` replaces every bundle and tells the listeners. */
export class TestBundleSource implements X509BundleSource {
  private readonly listeners = new Set<() => void>();
  constructor(private bundles: ReadonlyMap<string, string>) {}
  bundlePemFor(trustDomain: string): string | undefined {
    return this.bundles.get(trustDomain);
  }
  allBundlesPem(): string {
    return [...this.bundles.values()].join('');
  }
  set(bundles: ReadonlyMap<string, string>): void {
    this.bundles = bundles;
    for (const l of [...this.listeners]) l();
  }
  onDidChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Allows the callers named in `rules` (SPIFFE ID → rule name), and plaintext callers only when `plaintextRule` is given. */
export function allowOnly(rules: Readonly<Record<string, string>>, plaintextRule?: string): Authorizer {
  return (caller: SpiffeId | undefined, callee: SpiffeId) => {
    if (caller === undefined) {
      return plaintextRule !== undefined
        ? { allowed: true, rule: plaintextRule, explanation: `plaintext callers may call ${callee.toString()} (rule ${plaintextRule})` }
        : { allowed: false, rule: 'default-deny', explanation: `no rule lets a plaintext caller call ${callee.toString()}` };
    }
    const rule = rules[caller.toString()];
    return rule !== undefined
      ? { allowed: true, rule, explanation: `${caller.toString()} may call ${callee.toString()} (rule ${rule})` }
      : { allowed: false, rule: 'default-deny', explanation: `no rule lets ${caller.toString()} call ${callee.toString()}` };
  };
}

/** A plain HTTP/1.1 service that answers every GET with `ok <name> <n>` and counts what it received. */
export class Backend {
  bytes = 0;
  connections = 0;
  requests = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor(name: string) {
    this.server = createServer((socket) => this.serve(name, socket));
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  static async start(name: string): Promise<Backend> {
    const backend = new Backend(name);
    await new Promise<void>((resolve, reject) => {
      backend.server.once('error', reject);
      backend.server.listen(0, LOCALHOST, () => resolve());
    });
    return backend;
  }

  reset(): void {
    this.bytes = 0;
    this.connections = 0;
    this.requests = 0;
  }

  private serve(name: string, socket: Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        this.requests++;
        const body = `ok ${name} ${this.requests}\n`;
        const close = /\r\nconnection: close/i.test(head);
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${body}`);
        if (close) socket.end();
      }
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** What came back on a connection: the raw bytes, the status (0 when there was no HTTP answer) and the JSON body if any. */
export interface Reply {
  readonly status: number;
  readonly raw: string;
  readonly body: string;
  readonly json?: Record<string, unknown>;
  readonly error?: string;
}

function toReply(raw: string, error?: string): Reply {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  const split = raw.indexOf('\r\n\r\n');
  const body = split >= 0 ? raw.slice(split + 4) : '';
  let json: Record<string, unknown> | undefined;
  if (/content-type: application\/json/i.test(raw.slice(0, Math.max(split, 0)))) json = JSON.parse(body) as Record<string, unknown>;
  const reply = { status: m ? Number(m[1]) : 0, raw, body };
  return { ...reply, ...(json ? { json } : {}), ...(error ? { error } : {}) };
}

const GET = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`;

/** One GET over a fresh plain connection, read until the peer closes (bounded by `timeoutMs`). */
export function plainGet(port: number, path = '/', timeoutMs = 5_000): Promise<Reply> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: LOCALHOST, port });
    let raw = '';
    let error: string | undefined;
    const timer = setTimeout(() => socket.destroy(new Error('test: no answer in time')), timeoutMs);
    socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
    socket.on('error', (e) => (error ??= e.message));
    socket.on('connect', () => socket.write(GET(path)));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(toReply(raw, error));
    });
  });
}

export interface TlsGetOptions {
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
  readonly timeoutMs?: number;
}

/** One GET over a fresh TLS connection to a mesh port (any server name accepted), with the server's leaf serial. */
export function tlsGet(port: number, o: TlsGetOptions = {}): Promise<Reply & { readonly serverSerial?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: LOCALHOST, port, cert: o.cert, key: o.key, ca: o.ca, rejectUnauthorized: o.ca !== undefined, checkServerIdentity: () => undefined });
    let raw = '';
    let error: string | undefined;
    let serverSerial: string | undefined;
    const timer = setTimeout(() => socket.destroy(new Error('test: no answer in time')), o.timeoutMs ?? 5_000);
    socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
    socket.on('error', (e) => (error ??= e.message));
    socket.on('secureConnect', () => {
      serverSerial = socket.getPeerX509Certificate()?.serialNumber.toLowerCase();
      socket.write(GET('/'));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ...toReply(raw, error), ...(serverSerial ? { serverSerial } : {}) });
    });
  });
}

/** Every event on a bus, with a wait for the one a test expects. */
export class EventLog {
  readonly events: MeshEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly off: () => void;

  constructor(bus: EventBus) {
    this.off = bus.on((e) => {
      this.events.push(e);
      for (const w of [...this.waiters]) w();
    });
  }

  clear(): void {
    this.events.length = 0;
  }

  rejections(side: 'server' | 'client'): RejectionEvent[] {
    return this.events.filter((e): e is RejectionEvent => e.type === 'rejection' && e.side === side);
  }

  /** Resolves with the first event that matches, waiting up to `timeoutMs`; rejects naming what was seen instead. */
  waitFor<E extends MeshEvent>(match: (e: MeshEvent) => e is E, what: string, timeoutMs = 3_000): Promise<E> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.find(match);
        if (found !== undefined) done(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`test: no ${what} event within ${timeoutMs} ms; saw ${JSON.stringify(this.events.map((e) => e.type === 'rejection' ? `${e.type}/${e.side}/${e.reason}` : e.type))}`));
      }, timeoutMs);
      const done = (e: E): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(e);
      };
      this.waiters.add(check);
      check();
    });
  }

  dispose(): void {
    this.off();
  }
}

/** A matcher for a rejection event on one side. */
export function rejectionOn(side: 'server' | 'client'): (e: MeshEvent) => e is RejectionEvent {
  return (e): e is RejectionEvent => e.type === 'rejection' && e.side === side;
}

/** A port nothing listens on right now (listen on 0, read it, close). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, LOCALHOST, () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** A keep-alive HTTP/1.1 client on one plain connection: one request at a time, responses framed by Content-Length. */
export class KeepAliveClient {
  private buffer = '';
  private waiting?: { resolve: (status: number) => void; reject: (err: Error) => void };
  private closed?: Error;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      this.deliver();
    });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('test: the connection closed')));
  }

  static connect(port: number): Promise<KeepAliveClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: LOCALHOST, port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new KeepAliveClient(socket));
      });
    });
  }

  /** Resolves with the status of one GET; rejects when the connection fails first. */
  get(path = '/'): Promise<number> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
    });
  }

  private deliver(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || this.waiting === undefined) return;
    const head = this.buffer.slice(0, end);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? '0');
    if (this.buffer.length < end + 4 + length) return;
    this.buffer = this.buffer.slice(end + 4 + length);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? '0');
    const w = this.waiting;
    this.waiting = undefined;
    w.resolve(status);
  }

  private fail(err: Error): void {
    this.closed ??= err;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
  }

  close(): void {
    this.socket.destroy();
  }
}
