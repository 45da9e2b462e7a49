// A service's sidecar, as the mesh runs it (Consul Connect's model):
//
//   caller ─► 127.0.0.1:<upstream local port> ─► mTLS ─► <callee mesh port> ─► 127.0.0.1:<service port>
//             (this sidecar, outbound)                   (callee's sidecar, inbound)
//
// Inbound it authenticates the caller's X.509-SVID, authorizes its SPIFFE ID, and only then
// connects the service; outbound it presents this service's SVID and accepts only the expected
// upstream ID. It authorizes once per connection and then pipes bytes: a Node listener doing
// exactly that matched nginx as an mTLS proxy, while a per-request HTTP proxy reached ~0.6× of it.
import { connect as netConnect, createServer as netCreateServer, type Server, type Socket } from 'node:net';
import {
  connect as tlsConnect,
  createSecureContext,
  createServer as tlsCreateServer,
  type ConnectionOptions,
  type DetailedPeerCertificate,
  type PeerCertificate,
  type SecureContext,
  type SecureContextOptions,
  type Server as TlsServer,
  type TLSSocket,
} from 'node:tls';
import type { Duplex } from 'node:stream';
import type { EventBus } from '../events/bus.js';
import type { Peer, RejectReason } from '../events/types.js';
import type { X509BundleSource, X509SvidSource } from '../pki/source.js';
import type { Authorizer, Decision } from '../policy/types.js';
import { SpiffeError, SpiffeId, TrustDomain } from '../spiffe/index.js';
import type { RejectionLedger } from './ledger.js';
import { jsonResponse, RequestCounter } from './sidecarHttp.js';
import { SidecarError } from './sidecarErrors.js';
import { classifyHandshakeError, classifyUpstreamError, PeerVerifier, TlsPeerError } from './tlsPeer.js';

export { RejectionLedger } from './ledger.js';
export type { LedgerEntry, RejectionLedgerOptions } from './ledger.js';
export { SidecarError } from './sidecarErrors.js';
export type { SidecarErrorCode } from './sidecarErrors.js';

const LOCALHOST = '127.0.0.1';
const TLS_HANDSHAKE_RECORD = 0x16;
/** A connection that sends nothing at all this long is dropped before it costs anything more. */
const FIRST_BYTE_TIMEOUT_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long a refused caller may keep sending after our answer before the socket is destroyed. */
const LINGER_MS = 2_000;
/** Call events per connection at most this often, so 10k req/s never becomes 10k events/s. */
const CALL_FLUSH_MS = 1_000;

/** One upstream this service calls: a plain local port that originates mTLS to the upstream's sidecar. */
export interface UpstreamSpec {
  readonly name: string;
  /** The SPIFFE ID the upstream's sidecar must present, exactly. */
  readonly spiffeId: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** The upstream sidecar's mesh port. */
  readonly port: number;
  /** The local plain port on 127.0.0.1; 0 or absent: the OS picks one. */
  readonly localPort?: number;
  /**
   * The upstream terminates mTLS itself (a native service), so no sidecar on its side reports the
   * call: this sidecar emits the 'call' events for it instead.
   */
  readonly reportCalls?: boolean;
}

export interface SidecarOptions {
  readonly service: string;
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly svid: X509SvidSource;
  readonly bundles: X509BundleSource;
  /** The service's plain 127.0.0.1 port; absent: no inbound listener (e.g. an entry frontend that only calls upstreams). */
  readonly servicePort?: number;
  /** The mTLS port callers use; 0 or absent: the OS picks one. */
  readonly meshPort?: number;
  readonly upstreams: readonly UpstreamSpec[];
  readonly authorize: Authorizer;
  /** strict: mutual TLS only; permissive: plaintext callers are also let through, if the authorizer allows "no identity". */
  readonly mode: 'strict' | 'permissive';
  readonly bus: EventBus;
  /** Shared by all sidecars of one mesh, so a caller's sidecar learns why the callee's refused it. */
  readonly ledger?: RejectionLedger;
  /** SPIFFE ID → service name, for the peers named in events. */
  readonly names?: (spiffeId: string) => string | undefined;
}

export interface SidecarPorts {
  readonly meshPort?: number;
  readonly upstreamPorts: Readonly<Record<string, number>>;
}

export interface InboundStats {
  readonly connections: number;
  /** Connections that completed a TLS handshake. */
  readonly handshakes: number;
  readonly resumed: number;
  readonly plaintext: number;
  /** Connections passed to the service. */
  readonly accepted: number;
  /** Refused before authorization: no certificate, a bad one, plaintext in strict mode, a TLS alert. */
  readonly refused: number;
  readonly denied: number;
  readonly active: number;
  readonly requests: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** TLS errors before the handshake finished that name no reason (resets, timeouts). */
  readonly handshakeErrors: number;
}

export interface OutboundStats {
  readonly connections: number;
  readonly established: number;
  readonly resumed: number;
  readonly failed: number;
  readonly active: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface SidecarStats {
  readonly inbound: InboundStats;
  readonly outbound: OutboundStats;
  /** Certificate or bundle changes applied without a restart. */
  readonly reloads: number;
  /** Changes that could not be applied (the previous material stays in use). */
  readonly reloadErrors: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface CallRecord {
  readonly caller: Peer;
  readonly callee: Peer;
  readonly plaintext: boolean;
  requests: number;
  bytesIn: number;
  bytesOut: number;
}

interface Upstream {
  readonly spec: UpstreamSpec;
  readonly id: SpiffeId;
  readonly host: string;
  readonly address: string;
  readonly peer: Peer;
  server?: Server;
  /** The last TLS session ticket from a verified connection to this upstream. */
  session?: Buffer;
}

interface Failure {
  readonly reason: RejectReason;
  readonly detail: string;
  readonly rule?: string;
}

function noop(): void {
  // Errors surface through 'close' and the state kept for it; an unhandled 'error' would crash the process.
}

/** Ends `s` gracefully when it was already told to end (its last bytes may still be queued), else destroys it. */
function finish(s: Duplex): void {
  if (s.destroyed) return;
  if (s.writableEnded) {
    const timer = setTimeout(() => s.destroy(), LINGER_MS);
    timer.unref();
    s.once('close', () => clearTimeout(timer));
  } else {
    s.destroy();
  }
}

/** Copies `from` into `to` with backpressure, and passes on the end of the stream (half-close) unless `onEnd` decides. */
function pump(from: Duplex, to: Duplex, onChunk: (chunk: Buffer) => void, onEnd?: () => void): void {
  from.on('data', (chunk: Buffer) => {
    onChunk(chunk);
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => {
    if (onEnd !== undefined) onEnd();
    else if (!to.destroyed && !to.writableEnded) to.end();
  });
}

/** After an answer of our own: read and discard whatever the peer still sends, then close. */
function answerAndClose(s: Duplex, answer: Buffer | undefined): void {
  s.on('data', noop);
  s.resume();
  if (answer !== undefined) s.end(answer);
  else s.end();
  finish(s);
}

function parseId(text: string, what: string): SpiffeId {
  try {
    return SpiffeId.parse(text);
  } catch (err) {
    const why = err instanceof SpiffeError ? err.message : String(err);
    throw new SidecarError('bad-option', `sidecar: ${what} is not a valid SPIFFE ID (${why})`);
  }
}

function checkPort(value: number | undefined, what: string, allowZero: boolean): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 65_535) {
    throw new SidecarError('bad-option', `sidecar: ${what} is ${value}, which is not a TCP port; give a whole number from ${allowZero ? 0 : 1} to 65535${allowZero ? ' (0 lets the OS pick)' : ''}.`);
  }
}

/**
 * One service's sidecar: an inbound mTLS listener in front of the service (when `servicePort` is
 * set) and one plain local port per upstream. Promises: no byte from a caller that is not
 * authenticated and authorized reaches the service; every refusal is a 'rejection' event with a
 * precise reason on the side that saw it (and, through the shared ledger, on the caller's side
 * too); certificate and bundle changes apply to new connections at once while open ones go on.
 */
export class Sidecar {
  private readonly id: SpiffeId;
  private readonly self: Peer;
  private readonly verifier: PeerVerifier;
  private readonly upstreams: Upstream[];
  private readonly sockets = new Set<Duplex>();
  private readonly calls = new Set<CallRecord>();
  /**
   * Open inbound connections that were let through, with who they were let through for: a policy
   * change closes the ones no longer allowed, so a keep-alive connection cannot outlive the
   * decision that opened it. (A caller's certificate expiring does not close its connection, as in
   * Envoy: the handshake proved the identity, and cutting at expiry would fail requests in flight
   * on every rotation.)
   */
  private readonly admitted = new Map<Duplex, { readonly id: SpiffeId | undefined; readonly caller: Peer; readonly sourcePort: number | undefined }>();
  private readonly inbound: Mutable<InboundStats> = {
    connections: 0,
    handshakes: 0,
    resumed: 0,
    plaintext: 0,
    accepted: 0,
    refused: 0,
    denied: 0,
    active: 0,
    requests: 0,
    bytesIn: 0,
    bytesOut: 0,
    handshakeErrors: 0,
  };
  private readonly outbound: Mutable<OutboundStats> = { connections: 0, established: 0, resumed: 0, failed: 0, active: 0, bytesIn: 0, bytesOut: 0 };
  private reloads = 0;
  private reloadErrors = 0;
  private meshServer?: Server;
  private tlsServer?: TlsServer;
  private clientContext?: SecureContext;
  /** Bumped on every reload: a session ticket from an older context is not kept. */
  private generation = 0;
  private meshPort?: number;
  private flushTimer?: NodeJS.Timeout;
  private unsubscribe: (() => void)[] = [];
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private stopping?: Promise<void>;

  constructor(private readonly o: SidecarOptions) {
    if (o.service.trim() === '') throw new SidecarError('bad-option', 'sidecar: the service name is empty; name the service this sidecar fronts, e.g. "orders".');
    this.id = parseId(o.spiffeId, `the SPIFFE ID of ${o.service} ("${o.spiffeId}")`);
    let td: TrustDomain;
    try {
      td = TrustDomain.parse(o.trustDomain);
    } catch (err) {
      const why = err instanceof SpiffeError ? err.message : String(err);
      throw new SidecarError('bad-option', `sidecar: the trust domain of ${o.service} is not valid (${why})`);
    }
    if (!this.id.memberOf(td)) {
      throw new SidecarError('bad-option', `sidecar: ${o.service}'s ID ${this.id.toString()} is outside its trust domain "${td.name}"; use an ID under ${td.idString()}/.`);
    }
    if (o.mode !== 'strict' && o.mode !== 'permissive') {
      throw new SidecarError('bad-option', `sidecar: mode "${String(o.mode)}" is unknown; use "strict" (mutual TLS only) or "permissive" (also plaintext).`);
    }
    checkPort(o.servicePort, `${o.service}'s service port`, false);
    checkPort(o.meshPort, `${o.service}'s mesh port`, true);
    const seen = new Set<string>();
    this.upstreams = o.upstreams.map((spec) => {
      if (spec.name.trim() === '' || seen.has(spec.name)) {
        throw new SidecarError('bad-option', `sidecar: ${o.service} has ${spec.name.trim() === '' ? 'an upstream with no name' : `two upstreams named "${spec.name}"`}; give each upstream a distinct name.`);
      }
      seen.add(spec.name);
      checkPort(spec.port, `the mesh port of ${o.service}'s upstream "${spec.name}"`, false);
      checkPort(spec.localPort, `the local port of ${o.service}'s upstream "${spec.name}"`, true);
      const id = parseId(spec.spiffeId, `the SPIFFE ID expected of upstream "${spec.name}" ("${spec.spiffeId}")`);
      const host = spec.host ?? LOCALHOST;
      const address = `${host}:${spec.port}`;
      return { spec, id, host, address, peer: { service: spec.name, spiffeId: id.toString(), address } };
    });
    this.self = { service: o.service, spiffeId: this.id.toString() };
    this.verifier = new PeerVerifier(o.bundles, td.name);
  }

  /** Counters since start; a snapshot. */
  get stats(): SidecarStats {
    return { inbound: { ...this.inbound }, outbound: { ...this.outbound }, reloads: this.reloads, reloadErrors: this.reloadErrors };
  }

  /** Listens on the mesh port (when there is a service) and on one local port per upstream, all on 127.0.0.1. */
  async start(): Promise<SidecarPorts> {
    if (this.state !== 'new') throw new SidecarError('already-started', `sidecar: ${this.o.service}'s sidecar was already started; make a new Sidecar to start again.`);
    this.state = 'starting';
    let material: SecureContextOptions;
    try {
      material = this.contextOptions();
      this.clientContext = createSecureContext(material);
    } catch (err) {
      this.state = 'stopped';
      const why = err instanceof Error ? err.message : String(err);
      throw new SidecarError('bad-svid', `sidecar: ${this.o.service}'s SVID, key or bundle cannot be used for TLS (${why}); issue the SVID again (mtls-lab issue ${this.id.toString()}).`);
    }
    // Subscribed before listening, so a rotation during start-up is not missed.
    this.unsubscribe = [this.o.svid.onDidChange(() => this.reload('svid')), this.o.bundles.onDidChange(() => this.reload('bundle'))];
    try {
      if (this.o.servicePort !== undefined) {
        // Client certificates are judged on 'secureConnection' so a refusal can say why; OpenSSL
        // alone would drop the connection without a reason (see DESIGN.md, facts about Node TLS).
        const tlsServer = tlsCreateServer({ ...material, requestCert: true, rejectUnauthorized: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
        tlsServer.on('secureConnection', (s: TLSSocket) => this.onSecureConnection(s));
        tlsServer.on('tlsClientError', (err: Error, s: TLSSocket) => this.onTlsClientError(err, s));
        this.tlsServer = tlsServer;
        const mesh = netCreateServer({ allowHalfOpen: true }, (s) => this.onMeshConnection(s));
        this.meshServer = mesh;
        this.meshPort = await this.listen(mesh, this.o.meshPort ?? 0, 'mesh port');
      }
      const upstreamPorts: Record<string, number> = {};
      for (const up of this.upstreams) {
        const server = netCreateServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.onLocalConnection(up, s));
        up.server = server;
        upstreamPorts[up.spec.name] = await this.listen(server, up.spec.localPort ?? 0, `local port for upstream "${up.spec.name}"`);
      }
      this.flushTimer = setInterval(() => this.flushCalls(), CALL_FLUSH_MS);
      this.flushTimer.unref();
      this.state = 'running';
      return this.meshPort === undefined ? { upstreamPorts } : { meshPort: this.meshPort, upstreamPorts };
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Closes every listener and connection; the calls still open get their last 'call' event. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  private async close(): Promise<void> {
    if (this.live) this.flushCalls();
    this.state = 'stopped';
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    if (this.flushTimer !== undefined) clearInterval(this.flushTimer);
    const servers = [this.meshServer, ...this.upstreams.map((u) => u.server)].filter((s): s is Server => s !== undefined);
    const closed = servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all(closed);
  }

  private listen(server: Server, port: number, what: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? `${LOCALHOST}:${port} is already in use; pick another port, or 0 to let the OS choose` : err.message;
        reject(new SidecarError('listen-failed', `sidecar: ${this.o.service}'s sidecar cannot listen on its ${what}: ${why}.`));
      };
      server.once('error', onError);
      server.listen(port, LOCALHOST, () => {
        server.off('error', onError);
        server.on('error', noop);
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  /** Accepting connections: from the first listener up, until stop(). */
  private get live(): boolean {
    return this.state === 'starting' || this.state === 'running';
  }

  private track(s: Duplex): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    s.on('error', noop);
  }

  private contextOptions(): SecureContextOptions {
    const svid = this.o.svid.current();
    return { cert: svid.certChainPem, key: svid.keyPem, ca: this.o.bundles.allBundlesPem() };
  }

  /** New material for new connections; open connections keep the context they were made with. */
  private reload(what: 'svid' | 'bundle'): void {
    if (!this.live) return;
    let material: SecureContextOptions;
    let context: SecureContext;
    try {
      material = this.contextOptions();
      context = createSecureContext(material);
      // setSecureContext replaces the context (and its session ticket keys) for new handshakes only.
      this.tlsServer?.setSecureContext(material);
    } catch {
      this.reloadErrors++;
      return;
    }
    this.clientContext = context;
    this.generation++;
    // A resumed session would present the identity of the old certificate and skip the new bundle.
    for (const up of this.upstreams) up.session = undefined;
    if (what === 'bundle') this.verifier.invalidate();
    this.reloads++;
  }

  private peerFor(spiffeId: string | undefined, address: string | undefined): Peer {
    const service = spiffeId === undefined ? undefined : this.o.names?.(spiffeId);
    const peer: { service?: string; spiffeId?: string; address?: string } = {};
    if (service !== undefined) peer.service = service;
    if (spiffeId !== undefined) peer.spiffeId = spiffeId;
    if (address !== undefined) peer.address = address;
    return peer;
  }

  private flushCalls(): void {
    for (const call of this.calls) this.flushCall(call);
  }

  private admit(socket: Duplex, id: SpiffeId | undefined, caller: Peer, sourcePort: number | undefined): void {
    this.admitted.set(socket, { id, caller, sourcePort });
    socket.once('close', () => this.admitted.delete(socket));
  }

  private cutOff(socket: Duplex, entry: { caller: Peer; sourcePort: number | undefined }, failure: Failure): void {
    this.admitted.delete(socket);
    this.rejectInbound(entry.sourcePort, entry.caller, failure);
    socket.destroy();
  }

  /**
   * Re-asks the authorizer for every open connection (call after a policy change): the ones no
   * longer allowed are closed with a 'denied-by-policy' rejection naming the deciding rule.
   */
  revalidate(): number {
    let closed = 0;
    for (const [socket, entry] of this.admitted) {
      const decision = this.o.authorize(entry.id, this.id);
      if (decision.allowed) continue;
      const detail = `${entry.id?.toString() ?? 'a plaintext caller'} may no longer call ${this.id.toString()}: ${decision.explanation} Its open connection was closed.`;
      this.cutOff(socket, entry, { reason: 'denied-by-policy', detail, rule: decision.rule });
      closed++;
    }
    return closed;
  }

  private flushCall(call: CallRecord): void {
    if (call.requests === 0 && call.bytesIn === 0 && call.bytesOut === 0) return;
    const event = { type: 'call' as const, caller: call.caller, callee: call.callee, requests: call.requests, bytesIn: call.bytesIn, bytesOut: call.bytesOut };
    this.o.bus.emit(call.plaintext ? { ...event, plaintext: true } : event);
    call.requests = 0;
    call.bytesIn = 0;
    call.bytesOut = 0;
  }

  private rejectInbound(sourcePort: number | undefined, caller: Peer, failure: Failure): void {
    if (failure.reason === 'denied-by-policy') this.inbound.denied++;
    else this.inbound.refused++;
    const event = { type: 'rejection' as const, side: 'server' as const, reason: failure.reason, detail: failure.detail, caller, callee: this.self };
    this.o.bus.emit(failure.rule === undefined ? event : { ...event, rule: failure.rule });
    if (sourcePort !== undefined) this.o.ledger?.record(sourcePort, { ...failure, caller, callee: this.self });
  }

  private authorizeCaller(caller: SpiffeId | undefined, callerPeer: Peer): Decision {
    let decision: Decision;
    try {
      decision = this.o.authorize(caller, this.id);
    } catch (err) {
      // A broken policy fails closed.
      const why = err instanceof Error ? err.message : String(err);
      decision = { allowed: false, rule: 'policy-error', explanation: `the policy could not decide (${why}), so the call is denied.` };
    }
    this.o.bus.emit({ type: 'policy/decision', caller: callerPeer, callee: this.self, allowed: decision.allowed, rule: decision.rule, explanation: decision.explanation });
    return decision;
  }

  // ── inbound ────────────────────────────────────────────────────────────────────────────────

  private onMeshConnection(socket: Socket): void {
    if (!this.live) {
      socket.destroy();
      return;
    }
    this.inbound.connections++;
    this.track(socket);
    socket.setNoDelay(true);
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    // Half-open sockets stay open after the peer's FIN; one that ends before a byte never will.
    const endedEarly = (): void => {
      socket.destroy();
    };
    socket.once('end', endedEarly);
    // The first byte tells a TLS ClientHello (a handshake record) from plaintext; it is put back
    // so the TLS server or the plaintext path reads the stream from its start.
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      socket.off('end', endedEarly);
      socket.pause();
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE_RECORD && this.tlsServer !== undefined) this.tlsServer.emit('connection', socket);
      else this.onPlaintext(socket, first);
    });
  }

  private onPlaintext(socket: Socket, first: Buffer): void {
    this.inbound.plaintext++;
    const sourcePort = socket.remotePort;
    const caller = this.peerFor(undefined, `${LOCALHOST}:${sourcePort ?? '?'}`);
    if (this.o.mode === 'strict') {
      const looksHttp = /^[A-Z]{3,8} /.test(first.toString('latin1', 0, 9));
      const fix = `call ${this.o.service} through your sidecar's upstream port, or present an SVID: curl --cert svid.pem --key svid_key.pem --cacert svid_bundle.pem https://localhost:${this.meshPort ?? 'PORT'}/ (curl checks the host name, so the server's SVID must carry DNS name localhost)`;
      const detail = `a caller sent ${looksHttp ? 'plaintext HTTP' : 'plaintext'} to ${this.o.service}'s mesh port ${LOCALHOST}:${this.meshPort ?? '?'}, which speaks mutual TLS only; ${fix}.`;
      this.rejectInbound(sourcePort, caller, { reason: 'plaintext-on-mtls-port', detail });
      const body = { error: 'plaintext-on-mtls-port', reason: 'plaintext-on-mtls-port', callee: this.id.toString(), service: this.o.service, detail: `This port speaks mutual TLS only (SPIFFE X.509-SVIDs); plaintext is refused in strict mode.`, fix };
      answerAndClose(socket, jsonResponse(400, 'Bad Request', body));
      return;
    }
    const decision = this.authorizeCaller(undefined, caller);
    if (!decision.allowed) {
      this.deny(socket, sourcePort, caller, undefined, decision);
      return;
    }
    this.admit(socket, undefined, caller, sourcePort);
    this.connectService(socket, sourcePort, { caller, callee: this.self, plaintext: true, requests: 0, bytesIn: 0, bytesOut: 0 });
  }

  private onTlsClientError(err: Error, socket: TLSSocket): void {
    socket.destroy();
    if (!this.live) return;
    const failure = classifyHandshakeError(err, this.o.service);
    if (failure === undefined) {
      this.inbound.handshakeErrors++;
      return;
    }
    const sourcePort = socket.remotePort;
    this.rejectInbound(sourcePort, this.peerFor(undefined, `${LOCALHOST}:${sourcePort ?? '?'}`), failure);
  }

  private onSecureConnection(socket: TLSSocket): void {
    this.track(socket);
    if (!this.live) {
      socket.destroy();
      return;
    }
    this.inbound.handshakes++;
    const resumed = socket.isSessionReused();
    if (resumed) this.inbound.resumed++;
    const sourcePort = socket.remotePort;
    const address = `${LOCALHOST}:${sourcePort ?? '?'}`;
    const leaf = socket.getPeerX509Certificate();
    if (leaf === undefined) {
      const detail = `the caller at ${address} sent no client certificate, and ${this.o.service}'s mesh port requires an X.509-SVID; present svid.pem and svid_key.pem (curl --cert svid.pem --key svid_key.pem), or call through your own sidecar.`;
      this.rejectInbound(sourcePort, this.peerFor(undefined, address), { reason: 'no-client-cert', detail });
      socket.destroy();
      return;
    }
    const check = this.verifier.checkClient(socket, leaf, Date.now());
    if (!check.ok) {
      this.rejectInbound(sourcePort, this.peerFor(check.spiffeId, address), { reason: check.reason, detail: check.detail });
      socket.destroy();
      return;
    }
    const caller = this.peerFor(check.spiffeId, address);
    const decision = this.authorizeCaller(check.id, caller);
    if (!decision.allowed) {
      this.deny(socket, sourcePort, caller, check.spiffeId, decision);
      return;
    }
    this.o.bus.emit({ type: 'handshake', caller, callee: this.self, resumed, protocol: socket.getProtocol() ?? 'unknown' });
    this.admit(socket, check.id, caller, sourcePort);
    this.connectService(socket, sourcePort, { caller, callee: this.self, plaintext: false, requests: 0, bytesIn: 0, bytesOut: 0 });
  }

  /** An authenticated (or, permissive, plaintext) caller the policy does not allow: a 403 naming who, whom and which rule. */
  private deny(socket: Duplex, sourcePort: number | undefined, caller: Peer, callerId: string | undefined, decision: Decision): void {
    const who = callerId ?? 'a plaintext caller';
    const detail = `${who} may not call ${this.id.toString()}: ${decision.explanation}`;
    this.rejectInbound(sourcePort, caller, { reason: 'denied-by-policy', detail, rule: decision.rule });
    const body = { error: 'denied-by-policy', caller: callerId ?? null, callee: this.id.toString(), rule: decision.rule, reason: 'denied-by-policy', detail };
    answerAndClose(socket, jsonResponse(403, 'Forbidden', body));
  }

  /** Only now does the service see a connection: the caller is authenticated and authorized. */
  private connectService(client: Duplex, sourcePort: number | undefined, call: CallRecord): void {
    const servicePort = this.o.servicePort as number;
    const service = netConnect({ host: LOCALHOST, port: servicePort, allowHalfOpen: true });
    this.track(service);
    service.setNoDelay(true);
    let connected = false;
    const onClientCloseEarly = (): void => {
      if (!connected) service.destroy();
    };
    client.once('close', onClientCloseEarly);
    service.once('error', (err: NodeJS.ErrnoException) => {
      if (connected || !this.live) return;
      const detail = `${this.o.service} does not accept connections on ${LOCALHOST}:${servicePort} (${err.code ?? err.message}); its sidecar authorized the caller but the service is down, so start ${this.o.service}.`;
      this.rejectInbound(sourcePort, call.caller, { reason: 'upstream-unavailable', detail });
      answerAndClose(client, jsonResponse(502, 'Bad Gateway', { error: 'upstream-unavailable', reason: 'upstream-unavailable', caller: call.caller.spiffeId ?? null, callee: this.id.toString(), detail }));
    });
    service.once('connect', () => {
      connected = true;
      client.off('close', onClientCloseEarly);
      this.inbound.accepted++;
      this.inbound.active++;
      this.calls.add(call);
      const counter = new RequestCounter();
      pump(client, service, (chunk) => {
        const requests = counter.count(chunk);
        call.requests += requests;
        call.bytesIn += chunk.length;
        this.inbound.requests += requests;
        this.inbound.bytesIn += chunk.length;
      });
      pump(service, client, (chunk) => {
        call.bytesOut += chunk.length;
        this.inbound.bytesOut += chunk.length;
      });
      let closed = 0;
      const onClose = (): void => {
        if (++closed === 1) {
          this.inbound.active--;
          this.calls.delete(call);
          if (this.live) this.flushCall(call);
        }
      };
      client.once('close', () => {
        onClose();
        finish(service);
      });
      service.once('close', () => {
        onClose();
        finish(client);
      });
      client.resume();
    });
  }

  // ── outbound ───────────────────────────────────────────────────────────────────────────────

  private onLocalConnection(up: Upstream, local: Socket): void {
    if (!this.live || this.clientContext === undefined) {
      local.destroy();
      return;
    }
    this.outbound.connections++;
    this.outbound.active++;
    this.track(local);
    local.setNoDelay(true);
    const startedAt = Date.now();
    const generation = this.generation;
    let verified = false;
    let secure = false;
    let localGone = false;
    let error: unknown;
    let sourcePort: number | undefined;
    let toUpstream = 0;
    let toLocal = 0;
    // allowHalfOpen is honoured by tls.connect (it builds the TLSSocket with it) but missing from its type.
    const options: ConnectionOptions & { allowHalfOpen: boolean } = {
      host: up.host,
      port: up.spec.port,
      secureContext: this.clientContext,
      session: up.session,
      allowHalfOpen: true,
      // Both ends are sidecars; TLS 1.3 also makes the session ticket arrive after verification.
      minVersion: 'TLSv1.3',
      // The host name means nothing in a mesh: the upstream is whoever holds the expected SPIFFE ID.
      checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
        // Node passes the detailed certificate (with issuerCertificate) to checkServerIdentity.
        const check = this.verifier.checkServer(cert as DetailedPeerCertificate, up.id, Date.now());
        if (check.ok) {
          verified = true;
          return undefined;
        }
        return new TlsPeerError(check.reason, `the upstream ${up.spec.name} at ${up.address} was refused: ${check.detail}`, check.spiffeId);
      },
    };
    const upstream = tlsConnect(options);
    this.track(upstream);
    upstream.setNoDelay(true);
    upstream.setTimeout(HANDSHAKE_TIMEOUT_MS, () => {
      if (secure) return;
      const err = Object.assign(new Error(`the TLS handshake took longer than ${HANDSHAKE_TIMEOUT_MS} ms`), { code: 'ERR_SIDECAR_TIMEOUT' });
      upstream.destroy(err);
    });
    upstream.on('error', (err: unknown) => {
      error ??= err;
    });
    upstream.once('connect', () => {
      sourcePort = upstream.localPort;
    });
    upstream.on('session', (session: Buffer) => {
      // Only a session from a connection that proved the expected ID, made with the current material.
      if ((verified || upstream.isSessionReused()) && generation === this.generation) up.session = session;
    });
    local.once('close', () => {
      localGone = true;
      if (!secure) upstream.destroy();
    });
    upstream.once('secureConnect', () => {
      secure = true;
      upstream.setTimeout(0);
      this.outbound.established++;
      if (upstream.isSessionReused()) this.outbound.resumed++;
      if (local.destroyed) {
        upstream.destroy();
        return;
      }
      const call: CallRecord | undefined = up.spec.reportCalls ? { caller: this.self, callee: up.peer, plaintext: false, requests: 0, bytesIn: 0, bytesOut: 0 } : undefined;
      const counter = call ? new RequestCounter() : undefined;
      if (call) {
        this.calls.add(call);
        upstream.once('close', () => {
          this.calls.delete(call);
          if (this.live) this.flushCall(call);
        });
      }
      pump(local, upstream, (chunk) => {
        toUpstream += chunk.length;
        this.outbound.bytesOut += chunk.length;
        if (call && counter) {
          call.requests += counter.count(chunk);
          call.bytesIn += chunk.length;
        }
      });
      pump(
        upstream,
        local,
        (chunk) => {
          toLocal += chunk.length;
          this.outbound.bytesIn += chunk.length;
          if (call) call.bytesOut += chunk.length;
        },
        () => {
          // An upstream that ends without a byte may have refused us: 'close' decides what the
          // local caller hears (a 502 naming the reason), so its connection stays open till then.
          if (toLocal > 0) {
            if (!local.destroyed && !local.writableEnded) local.end();
          } else if (!upstream.writableEnded) {
            upstream.end();
          }
        },
      );
      local.once('close', () => finish(upstream));
      local.resume();
    });
    upstream.once('close', () => {
      this.outbound.active--;
      if (!this.live) {
        finish(local);
        return;
      }
      const failure = this.outboundFailure(up, error, sourcePort, startedAt, { secure, localGone, toUpstream, toLocal });
      if (failure === undefined) {
        finish(local);
        return;
      }
      this.outbound.failed++;
      const event = { type: 'rejection' as const, side: 'client' as const, reason: failure.reason, detail: failure.detail, caller: this.self, callee: up.peer };
      this.o.bus.emit(failure.rule === undefined ? event : { ...event, rule: failure.rule });
      if (toLocal === 0 && !local.destroyed && !local.writableEnded) {
        const body: Record<string, unknown> = { error: failure.reason, reason: failure.reason, caller: this.id.toString(), callee: up.id.toString(), upstream: up.spec.name, detail: failure.detail };
        if (failure.rule !== undefined) body.rule = failure.rule;
        answerAndClose(local, jsonResponse(502, 'Bad Gateway', body));
      } else {
        finish(local);
      }
    });
  }

  /** Why an outbound connection failed, or undefined when it simply ended. */
  private outboundFailure(
    up: Upstream,
    error: unknown,
    sourcePort: number | undefined,
    startedAt: number,
    s: { secure: boolean; localGone: boolean; toUpstream: number; toLocal: number },
  ): Failure | undefined {
    // Our own verdict on the upstream comes first: we refused it, whatever it thought of us.
    if (error instanceof TlsPeerError) return { reason: error.code, detail: error.message };
    const entry = sourcePort === undefined ? undefined : this.o.ledger?.take(sourcePort, startedAt);
    if (entry !== undefined) {
      const detail = `${up.spec.name}'s sidecar refused the call: ${entry.detail}`;
      return entry.rule === undefined ? { reason: entry.reason, detail } : { reason: entry.reason, detail, rule: entry.rule };
    }
    if (s.localGone && !s.secure) return undefined;
    if (!s.secure) return classifyUpstreamError(error ?? new Error('the connection closed during the TLS handshake'), up.spec.name, up.address);
    if (s.toLocal === 0 && s.toUpstream > 0) {
      return {
        reason: 'upstream-unavailable',
        detail: `${up.spec.name}'s sidecar at ${up.address} closed the connection without answering; if it refused this SVID, its own events say why.`,
      };
    }
    return undefined;
  }
}
