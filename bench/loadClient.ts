// A cheap HTTP/1.1 load client and a fixed-answer backend for the proxy benchmarks. DESIGN.md
// ("Facts measured on this machine"): an https.Agent client costs ~100 µs of CPU per request and
// becomes the bottleneck, so this one writes one fixed request per connection at a time (no
// pipelining) over raw `net`/`tls` sockets and reads each answer with one search for the end of
// the head and one for Content-Length. It runs in a process of its own (bench/worker.ts), so
// what the server under test spends is its process's CPU alone.
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { createSecureContext, connect as tlsConnect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { round, selfCpuMs } from './measure.js';

export const LOCALHOST = '127.0.0.1';

/** What every request is: a GET with the one header HTTP/1.1 requires. */
export const REQUEST = Buffer.from(`GET / HTTP/1.1\r\nHost: ${LOCALHOST}\r\nUser-Agent: mtls-lab-bench\r\n\r\n`, 'latin1');
const BODY = 'hello from the mesh\n';
/** What the backend answers to every request: small, fixed, keep-alive. */
export const RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`, 'latin1');

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const MAX_HEAD = 64 * 1024;

/** A response stream that is not HTTP/1.1 as this client reads it. */
export class ResponseError extends Error {}

/**
 * Splits an HTTP/1.1 response stream into responses: the status of each, in order. Only
 * Content-Length bodies (what the backend and both proxies send); anything else is a ResponseError.
 */
export class ResponseParser {
  private pending: Buffer | undefined;

  constructor(private readonly onResponse: (status: number) => void) {}

  push(chunk: Buffer): void {
    const buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    let off = 0;
    for (;;) {
      const end = buf.indexOf(HEAD_END, off);
      if (end < 0) {
        if (buf.length - off > MAX_HEAD) throw new ResponseError(`bench: a response head is longer than ${MAX_HEAD} bytes.`);
        break;
      }
      const head = buf.toString('latin1', off, end);
      const length = CONTENT_LENGTH.exec(head);
      if (!head.startsWith('HTTP/1.') || length === null) throw new ResponseError(`bench: a response without Content-Length: ${JSON.stringify(head.slice(0, 120))}.`);
      const total = end + HEAD_END.length + Number(length[1]);
      if (buf.length < total) break;
      off = total;
      this.onResponse(Number(head.slice(9, 12)));
    }
    this.pending = off < buf.length ? buf.subarray(off) : undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The backend

/** A plain HTTP/1.1 server on 127.0.0.1 that answers every request with RESPONSE and keeps the connection. */
export interface FixedBackend {
  readonly port: number;
  /** Requests answered so far. */
  readonly requests: () => number;
  close(): Promise<void>;
}

/**
 * Starts the backend: it counts requests by their blank line (GETs carry no body) and answers
 * each with the same bytes; no parser, so what it costs is the socket and nothing else.
 */
export function startFixedBackend(port = 0): Promise<FixedBackend> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => sockets.delete(socket));
    let tail: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      const data = tail === undefined ? chunk : Buffer.concat([tail, chunk]);
      let n = 0;
      let after = 0;
      for (let i = data.indexOf(HEAD_END); i >= 0; i = data.indexOf(HEAD_END, after)) {
        n++;
        after = i + HEAD_END.length;
      }
      // Up to 3 bytes after the last blank line may start the next one.
      const keep = Math.max(after, data.length - (HEAD_END.length - 1));
      tail = keep < data.length ? Buffer.from(data.subarray(keep)) : undefined;
      if (n === 0) return;
      requests += n;
      socket.write(n === 1 ? RESPONSE : Buffer.concat(Array.from({ length: n }, () => RESPONSE)));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOCALHOST, () => {
      server.off('error', reject);
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address !== null ? address.port : port,
        requests: () => requests,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The client

/** Client credentials for an mTLS target: our SVID, the bundle, and the SPIFFE ID the server must hold. */
export interface TlsClientSpec {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
  readonly serverId: string;
}

export interface LoadTarget {
  readonly port: number;
  /** Absent: plain TCP. */
  readonly tls?: TlsClientSpec;
}

/** keep-alive: each connection carries request after request; new-connection: a full handshake per request. */
export type LoadMode = 'keep-alive' | 'new-connection';

export interface LoadSpec {
  /** Driven one at a time, in turns, by the same process. */
  readonly targets: readonly LoadTarget[];
  readonly mode: LoadMode;
  /** Concurrent connections (keep-alive) or concurrent connect-request-close loops (new-connection), per target. */
  readonly connections: number;
  /** Untimed load on each target in turn before the first window: connections open, caches warm. */
  readonly warmupMs: number;
  /**
   * Rounds of one window per target. The order turns round each round (A B C, C B A, A B C …), so
   * a change in the machine's load (it is shared) falls on every target alike.
   */
  readonly rounds: number;
  /** Counted time per target per round. */
  readonly windowMs: number;
  /** Uncounted load on a target just before each of its windows, while the previous target's last answers drain. */
  readonly settleMs: number;
  /** A request without its answer this long is an error (default 5 s). */
  readonly timeoutMs?: number;
}

/** What the TLS handshake settled on (first connection of the run). */
export interface TlsInfo {
  readonly protocol: string;
  readonly cipher: string;
  /** The key exchange group, e.g. prime256v1. */
  readonly group: string;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** One target's share of a run: its windows added up. */
export interface TargetReport {
  /** Answers with status 200 completed inside the target's windows. */
  readonly requests: number;
  /** Sum of its windows. */
  readonly windowMs: number;
  readonly perSec: number;
  /** Over the whole run, warm-up included: anything but a 200 answer to a request sent. */
  readonly errors: number;
  readonly errorKinds: Readonly<Record<string, number>>;
  /** Microseconds from writing the request (new-connection: from connect) to the end of the answer, inside the windows. */
  readonly latencyUs: LatencySummary;
  /** Connections opened inside the windows. */
  readonly connectionsOpened: number;
  /** Of those, TLS sessions the server resumed (new-connection runs must show 0: every handshake is full). */
  readonly resumed: number;
  /** Keep-alive connections the server closed between requests (not errors; should be 0). */
  readonly reconnects: number;
  /** This client's own CPU inside the windows. */
  readonly cpuMs: number;
  readonly tls?: TlsInfo;
}

export interface LoadReport {
  readonly mode: LoadMode;
  readonly connections: number;
  readonly rounds: number;
  /** In the order of `LoadSpec.targets`. */
  readonly targets: readonly TargetReport[];
}

export interface LoadHooks {
  /** Called as each counted window starts and ends, so the caller can read other processes' CPU. */
  readonly onWindow?: (phase: 'start' | 'end', target: number) => void;
}

type ClientSocket = Socket | TLSSocket;

/**
 * How one target is reached. TLS options are made into one SecureContext up front: `tls.connect`
 * with `cert`/`key`/`ca` would parse them into a new context for every connection, which costs
 * the client more than the handshake itself.
 */
interface Dialer {
  readonly port: number;
  readonly tls?: ConnectionOptions;
}

function dialer(target: LoadTarget): Dialer {
  const spec = target.tls;
  if (spec === undefined) return { port: target.port };
  const wanted = `URI:${spec.serverId}`;
  const secureContext = createSecureContext({
    cert: spec.certPem,
    key: spec.keyPem,
    ca: spec.caPem,
    // The same TLS for every server under test: TLS 1.3 only, P-256 key exchange (the SVIDs are P-256).
    minVersion: 'TLSv1.3',
    ecdhCurve: 'P-256',
  });
  return {
    port: target.port,
    tls: {
      host: LOCALHOST,
      port: target.port,
      secureContext,
      // The chain is checked against the bundle by OpenSSL; the name that matters is the SPIFFE ID.
      checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined =>
        (cert.subjectaltname ?? '').split(', ').includes(wanted) ? undefined : new Error(`bench: the server presented ${cert.subjectaltname ?? 'no SAN'}, not ${wanted}.`),
    },
  };
}

/** Opens one connection; `ready` fires once bytes may be written (after the handshake for TLS). No session is offered: every TLS handshake is full. */
function open(d: Dialer, ready: (s: ClientSocket) => void): ClientSocket {
  if (d.tls === undefined) {
    const s = netConnect({ host: LOCALHOST, port: d.port });
    s.setNoDelay(true);
    s.once('connect', () => ready(s));
    return s;
  }
  const s = tlsConnect(d.tls);
  s.setNoDelay(true);
  s.once('secureConnect', () => ready(s));
  return s;
}

function tlsInfo(s: ClientSocket): TlsInfo | undefined {
  if (!('getProtocol' in s)) return undefined;
  const key = s.getEphemeralKeyInfo();
  const group = key !== null && 'name' in key && typeof key.name === 'string' ? key.name : 'unknown';
  return { protocol: s.getProtocol() ?? 'unknown', cipher: s.getCipher().name, group };
}

function summarize(h: RecordableHistogram): LatencySummary {
  if (h.count === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  return { p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), max: h.max, mean: round(h.mean, 1) };
}

/** One request on a fresh connection, for a check before a run: the status and what TLS settled on. */
export function probe(target: LoadTarget, timeoutMs = 5_000): Promise<{ status: number; tls?: TlsInfo }> {
  return new Promise((resolve, reject) => {
    let info: TlsInfo | undefined;
    const s = open(dialer(target), (ready) => {
      info = tlsInfo(ready);
      ready.write(REQUEST);
    });
    const timer = setTimeout(() => s.destroy(new Error(`bench: no answer from 127.0.0.1:${target.port} within ${timeoutMs} ms.`)), timeoutMs);
    const parser = new ResponseParser((status) => {
      clearTimeout(timer);
      s.destroy();
      resolve(info === undefined ? { status } : { status, tls: info });
    });
    s.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (err) {
        s.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`bench: a probe of 127.0.0.1:${target.port} failed (${err.message}).`));
    });
    s.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`bench: 127.0.0.1:${target.port} closed the connection without an answer.`));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** One target's loops and tallies. */
class TargetRun {
  readonly dial: Dialer;
  readonly loops: Loop[] = [];
  readonly histogram = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
  readonly errorKinds: Record<string, number> = {};
  active = false;
  counting = false;
  errors = 0;
  requests = 0;
  opened = 0;
  resumed = 0;
  reconnects = 0;
  windowMs = 0;
  cpuMs = 0;
  info: TlsInfo | undefined;

  constructor(
    readonly run: LoadRun,
    target: LoadTarget,
  ) {
    this.dial = dialer(target);
  }

  fail(kind: string): void {
    this.errors++;
    this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
  }

  report(): TargetReport {
    const r: TargetReport = {
      requests: this.requests,
      windowMs: round(this.windowMs, 1),
      perSec: this.windowMs > 0 ? round((this.requests * 1000) / this.windowMs, 1) : 0,
      errors: this.errors,
      errorKinds: this.errorKinds,
      latencyUs: summarize(this.histogram),
      connectionsOpened: this.opened,
      resumed: this.resumed,
      reconnects: this.reconnects,
      cpuMs: round(this.cpuMs, 1),
    };
    return this.info === undefined ? r : { ...r, tls: this.info };
  }
}

interface LoadRun {
  readonly mode: LoadMode;
  readonly timeoutMs: number;
}

/**
 * One closed loop: a keep-alive connection carrying one request after another, or (new-connection)
 * connect, one request, close, again. It sends only while its target is active; it goes idle
 * (keep-alive: connection kept) when its target's turn ends, and `kick` starts it again.
 */
class Loop {
  private socket: ClientSocket | undefined;
  private connected = false;
  private connecting = false;
  private sentAt = 0;
  private inFlight = false;
  private done = false;

  constructor(private readonly t: TargetRun) {}

  get busy(): boolean {
    return this.inFlight || this.connecting;
  }

  /** The target's turn began: send, connecting first if need be. */
  kick(): void {
    if (this.done || this.busy) return;
    if (this.connected && this.socket !== undefined) this.send(performance.now());
    else this.connect();
  }

  /** Called by the sweep: an answer overdue is an error, and the connection is replaced. */
  checkTimeout(now: number): void {
    if (this.inFlight && now - this.sentAt > this.t.run.timeoutMs) this.broken('timeout');
  }

  stop(): void {
    this.done = true;
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): void {
    if (this.done || !this.t.active) return;
    const connectAt = performance.now();
    const parser = new ResponseParser((status) => this.answered(status));
    this.connecting = true;
    this.connected = false;
    const s = open(this.t.dial, (ready) => {
      this.connecting = false;
      this.connected = true;
      const t = this.t;
      if (t.counting) {
        t.opened++;
        if ('isSessionReused' in ready && ready.isSessionReused()) t.resumed++;
      }
      t.info ??= tlsInfo(ready);
      if (t.active) this.send(t.run.mode === 'new-connection' ? connectAt : performance.now());
      else if (t.run.mode === 'new-connection') this.drop();
    });
    this.socket = s;
    s.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch {
        this.broken('bad-response');
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (this.socket === s) this.broken(err.code ?? 'socket-error');
    });
    s.on('close', () => {
      if (this.socket !== s) return;
      if (this.inFlight || this.connecting) {
        this.broken('closed-mid-request');
        return;
      }
      this.socket = undefined;
      this.connected = false;
      if (!this.done && this.t.run.mode === 'keep-alive') {
        this.t.reconnects++;
        this.connect();
      }
    });
  }

  private send(at: number): void {
    if (this.socket === undefined) return;
    this.sentAt = at;
    this.inFlight = true;
    this.socket.write(REQUEST);
  }

  private answered(status: number): void {
    const t = this.t;
    if (!this.inFlight) {
      this.broken('unasked-response');
      return;
    }
    this.inFlight = false;
    const now = performance.now();
    if (status !== 200) t.fail(`status-${status}`);
    else if (t.counting) {
      t.requests++;
      t.histogram.record(Math.max(1, Math.round((now - this.sentAt) * 1000)));
    }
    if (t.run.mode === 'keep-alive') {
      if (t.active && !this.done) this.send(now);
      return;
    }
    this.drop();
    this.connect();
  }

  /** Closes this connection on purpose (new-connection: after its one answer). */
  private drop(): void {
    const old = this.socket;
    this.socket = undefined;
    this.connected = false;
    old?.destroy();
  }

  private broken(kind: string): void {
    this.t.fail(kind);
    this.inFlight = false;
    this.connecting = false;
    this.drop();
    if (this.done) return;
    // A server that refuses connections must not turn this loop into a busy one.
    setTimeout(() => this.connect(), 20).unref();
  }
}

/**
 * Drives `spec.connections` closed loops against each target in turn: a warm-up on each, then
 * `rounds` rounds of settle + counted window per target, and reports each target's windows added
 * up. Every socket is closed before it resolves; a request still unanswered `timeoutMs` after the
 * last window counts as an error.
 */
export async function runLoad(spec: LoadSpec, hooks: LoadHooks = {}): Promise<LoadReport> {
  const run: LoadRun = { mode: spec.mode, timeoutMs: spec.timeoutMs ?? 5_000 };
  const targets = spec.targets.map((target) => new TargetRun(run, target));
  for (const t of targets) for (let i = 0; i < spec.connections; i++) t.loops.push(new Loop(t));
  const loops = targets.flatMap((t) => t.loops);
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const l of loops) l.checkTimeout(now);
  }, 250);
  const turn = (t: TargetRun): void => {
    for (const other of targets) other.active = other === t;
    for (const l of t.loops) l.kick();
  };
  try {
    for (const t of targets) {
      turn(t);
      await sleep(spec.warmupMs);
    }
    for (let r = 0; r < spec.rounds; r++) {
      const order = r % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        turn(t);
        await sleep(spec.settleMs);
        const index = targets.indexOf(t);
        const at = performance.now();
        const cpu = selfCpuMs();
        t.counting = true;
        hooks.onWindow?.('start', index);
        await sleep(spec.windowMs);
        t.counting = false;
        t.windowMs += performance.now() - at;
        t.cpuMs += selfCpuMs() - cpu;
        hooks.onWindow?.('end', index);
      }
    }
    for (const t of targets) t.active = false;
    // The last answers drain; anything still out at the timeout is an error.
    const deadline = performance.now() + run.timeoutMs;
    while (loops.some((l) => l.busy) && performance.now() < deadline) await sleep(10);
    for (const l of loops) l.checkTimeout(Number.POSITIVE_INFINITY);
  } finally {
    clearInterval(sweep);
    for (const l of loops) l.stop();
  }
  return { mode: spec.mode, connections: spec.connections, rounds: spec.rounds, targets: targets.map((t) => t.report()) };
}
