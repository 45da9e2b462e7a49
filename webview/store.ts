// The page's model: a snapshot and then events, folded into what the page draws. DOM-free and
// clock-free (every "now" is a parameter), so it runs in Node tests exactly as in the page.
//
// `reduce` never mutates its input: a batch of events yields a new model in which every node or
// edge the batch touched is a new object and every other one is the same object as before, so a
// renderer finds what changed by identity. Memory is bounded: calls are aggregated per edge
// (counters and a small per-second ring), and the log, the rejections per edge and the
// certificate bars per service are capped.
import type { MeshEvent, Peer, RejectReason } from '../src/core/events/types.js';
import type { ServerMessage } from '../src/protocol/messages.js';
import type { CaAuthoritySnapshot, MeshSnapshot, PolicyRuleSnapshot, ServiceSnapshot } from '../src/protocol/snapshot.js';
import { describeEvent } from './format.js';

/** The one node for callers outside the mesh that were refused or attacked. */
export const INTRUDER_ID = '@intruder';
/** The one node for callers outside the mesh that got through without an identity (e.g. a browser on the entry). */
export const OUTSIDE_ID = '@outside';

export interface StoreLimits {
  /** Log entries kept, oldest dropped first. */
  readonly maxLogEntries: number;
  /** Recent rejections kept per edge. */
  readonly maxRejectionsPerEdge: number;
  /** Certificate bars kept per service for the timeline. */
  readonly maxBarsPerService: number;
  /** The traffic rate is the mean over this many whole seconds. */
  readonly rateWindowSeconds: number;
  /** CA bundle overlaps kept. */
  readonly maxOverlaps: number;
}

export const DEFAULT_LIMITS: StoreLimits = {
  maxLogEntries: 1000,
  maxRejectionsPerEdge: 10,
  maxBarsPerService: 24,
  rateWindowSeconds: 10,
  maxOverlaps: 8,
};

export type ServiceState = ServiceSnapshot['state'];
export type NodeKind = 'service' | 'intruder' | 'outside';

/** One certificate's life, for the timeline. Times are epoch milliseconds. */
export interface CertBar {
  readonly serial: string;
  readonly notBefore: number;
  readonly notAfter: number;
  /** When the page learnt of it: the issuance event's time, or notBefore for a snapshot's certificate. */
  readonly issuedAt: number;
  readonly cause: 'snapshot' | 'start' | 'rotation' | 'manual' | 'ca-rotation';
  /** When the next certificate replaced it. */
  readonly replacedAt?: number;
  /** Serial of the CA root that was signing when it was issued, as far as the page knows. */
  readonly issuer?: string;
}

export interface NodeView {
  readonly id: string;
  readonly kind: NodeKind;
  readonly name: string;
  readonly spiffeId?: string;
  readonly mode?: ServiceSnapshot['mode'];
  readonly entry: boolean;
  readonly state: ServiceState;
  readonly meshPort?: number;
  readonly servicePort?: number;
  readonly upstreams: readonly string[];
  /** Paths only: the page never holds key material. */
  readonly files?: ServiceSnapshot['files'];
  /** The current certificate: the last bar, when there is one. */
  readonly cert?: CertBar;
  readonly bars: readonly CertBar[];
  readonly rotations: number;
  readonly lastRotationAt?: number;
  /** Counts live rotations; a renderer pulses the node when it grows. */
  readonly pulses: number;
  readonly lastFailure?: { readonly time: number; readonly error: string; readonly retryInMs: number };
  /** Intruder and outside nodes: the identities (or addresses) they presented, newest last. */
  readonly presented: readonly string[];
  readonly attacks: number;
  readonly breaches: number;
}

export type EdgeState = 'idle' | 'ok' | 'locked' | 'rejected' | 'breached';

export interface RejectionView {
  readonly seq: number;
  readonly time: number;
  readonly side: 'server' | 'client';
  readonly reason: RejectReason;
  readonly detail: string;
  readonly rule?: string;
  /** The identity the caller presented (verified or not) and the callee's. */
  readonly callerId?: string;
  readonly calleeId?: string;
  readonly scenario?: string;
}

export interface EdgeView {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  /** The caller lists the callee as an upstream. */
  readonly declared: boolean;
  readonly state: EdgeState;
  /** The last call that got through was mutually authenticated. */
  readonly mtls: boolean;
  readonly requests: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly handshakes: number;
  readonly lastOkAt?: number;
  readonly lastRejectAt?: number;
  readonly rejections: number;
  /** Newest last. */
  readonly recentRejections: readonly RejectionView[];
  readonly lastDecision?: { readonly time: number; readonly allowed: boolean; readonly rule: string; readonly explanation: string };
  /** Verified caller identities seen on this edge, newest last (few). */
  readonly callerIds: readonly string[];
  /** When an attack last got through on this edge. */
  readonly breachedAt?: number;
  /** Requests per whole second: `buckets[s % length]` for the seconds up to `bucketEnd`. */
  readonly buckets: readonly number[];
  readonly bucketEnd: number;
}

/**
 * A CA root through its rotation: prepared (in the bundle, not signing), active (signing), old
 * (still in the bundle until the last SVID it signed expires, no longer signing), retired (out of
 * the bundle). Times are when the page saw each phase begin.
 */
export interface CaAuthorityView extends CaAuthoritySnapshot {
  readonly preparedAt?: number;
  readonly activatedAt?: number;
  /** Stopped signing: another root was activated. */
  readonly oldAt?: number;
  /** Left the bundle. */
  readonly retiredAt?: number;
}

/** A time when the trust bundle held more than one root: the overlap of a CA rotation. */
export interface CaOverlap {
  readonly from: number;
  readonly to?: number;
  readonly serials: readonly string[];
}

export type LogCategory = 'identity' | 'ca' | 'traffic' | 'rejection' | 'policy' | 'service' | 'attack' | 'mesh';
export type Severity = 'info' | 'ok' | 'warn' | 'bad';

export interface LogEntry {
  readonly seq: number;
  readonly time: number;
  readonly type: MeshEvent['type'];
  readonly category: LogCategory;
  readonly severity: Severity;
  readonly text: string;
  readonly reason?: RejectReason;
  /** Node ids the event is about, for filtering by service. */
  readonly subjects: readonly string[];
}

export interface ViewModel {
  /** Grows with every change; 0 before the first snapshot. */
  readonly revision: number;
  /** Grows when the set of nodes changes: the graph lays out again only then. */
  readonly topology: number;
  readonly loaded: boolean;
  readonly trustDomain: string;
  readonly mode: MeshSnapshot['mode'];
  readonly ttlMs: number;
  readonly startedAt: string;
  readonly entryUrl?: string;
  readonly meshState?: string;
  readonly ca: {
    readonly keyType: string;
    readonly intermediate: boolean;
    readonly bundleSequence: number;
    readonly authorities: readonly CaAuthorityView[];
    readonly bundle: readonly string[];
    readonly overlaps: readonly CaOverlap[];
  };
  readonly policy: { readonly mode: MeshSnapshot['policy']['mode']; readonly rules: readonly PolicyRuleSnapshot[] };
  /** In snapshot order; intruder and outside nodes after the services. */
  readonly nodes: ReadonlyMap<string, NodeView>;
  readonly edges: ReadonlyMap<string, EdgeView>;
  /** SPIFFE ID → service node id, built with each snapshot. */
  readonly byId: ReadonlyMap<string, string>;
  /** Oldest first, at most `maxLogEntries`. Calls, handshakes and allowed decisions are aggregated into edges instead. */
  readonly log: readonly LogEntry[];
  readonly lastSeq: number;
  /** Events folded in since the page started, including those aggregated. */
  readonly eventsSeen: number;
}

/** The model before the first snapshot. */
export function initialModel(): ViewModel {
  return {
    revision: 0,
    topology: 0,
    loaded: false,
    trustDomain: '',
    mode: 'strict',
    ttlMs: 0,
    startedAt: '',
    ca: { keyType: '', intermediate: false, bundleSequence: 0, authorities: [], bundle: [], overlaps: [] },
    policy: { mode: 'strict', rules: [] },
    nodes: new Map(),
    edges: new Map(),
    byId: new Map(),
    log: [],
    lastSeq: 0,
    eventsSeen: 0,
  };
}

/** The next model after one message from the server. Replies change nothing here. */
export function reduce(model: ViewModel, message: ServerMessage, limits: StoreLimits = DEFAULT_LIMITS): ViewModel {
  switch (message.type) {
    case 'mesh/snapshot':
      return applySnapshot(model, message.snapshot, limits);
    case 'mesh/event':
      return applyEvents(model, [message.event], limits);
    case 'mesh/events':
      return applyEvents(model, message.events, limits);
    case 'reply':
      return model;
  }
}

/** The edge id for a call from `source` to `target` (node ids). */
export function edgeId(source: string, target: string): string {
  return `${source}->${target}`;
}

// ── snapshot ─────────────────────────────────────────────────────────────────────────────────

/**
 * Folds in a full snapshot. From the same daemon run (same `startedAt`) the page keeps what it
 * learnt (timeline bars, edges, log) and folds in only the recent events it has not seen; from a
 * new run it starts afresh. The snapshot is the truth about each current certificate unless it is
 * older than what the page saw (a relay may answer `ready` with the snapshot it holds and the
 * events after it): a certificate never goes back to an older one, and a stale snapshot's
 * service states and rotation counts yield to the events'.
 */
export function applySnapshot(model: ViewModel, snapshot: MeshSnapshot, limits: StoreLimits = DEFAULT_LIMITS): ViewModel {
  const sameRun = model.loaded && model.startedAt === snapshot.startedAt;
  const base: ViewModel = sameRun ? model : initialModel();
  let snapshotSeq = 0;
  for (const e of snapshot.recentEvents) snapshotSeq = Math.max(snapshotSeq, e.seq);
  const stale = sameRun && snapshotSeq < base.lastSeq;
  const nodes = new Map<string, NodeView>();
  const declared = new Map<string, readonly [string, string]>();
  for (const s of snapshot.services) {
    const prev = base.nodes.get(s.name);
    nodes.set(s.name, serviceNode(s, prev?.kind === 'service' ? prev : undefined, stale));
    for (const u of s.upstreams) declared.set(edgeId(s.name, u.service), [s.name, u.service]);
  }
  for (const id of [INTRUDER_ID, OUTSIDE_ID]) {
    const prev = base.nodes.get(id);
    if (prev !== undefined) nodes.set(id, prev);
  }
  const edges = new Map<string, EdgeView>();
  for (const [id, e] of base.edges) {
    if (!nodes.has(e.source) || !nodes.has(e.target)) continue;
    const isDeclared = declared.has(id);
    edges.set(id, e.declared === isDeclared ? e : { ...e, declared: isDeclared });
  }
  for (const [id, [source, target]] of declared) {
    if (!edges.has(id) && nodes.has(target)) edges.set(id, newEdge(source, target, true, limits));
  }
  const authorities = stale
    ? // The events have the newer word on phases; the snapshot still knows each root's subject.
      base.ca.authorities.map((a): CaAuthorityView => {
        const known = snapshot.ca.authorities.find((k) => k.serial === a.serial);
        return known !== undefined && a.subject === '' ? { ...a, subject: known.subject, notBefore: known.notBefore, keyType: known.keyType } : a;
      })
    : snapshot.ca.authorities.map((a): CaAuthorityView => caAuthority(a, base.ca.authorities.find((p) => p.serial === a.serial)));
  const topologyChanged = !sameNodeSet(base.nodes, nodes);
  const loaded: ViewModel = {
    ...base,
    revision: model.revision + 1,
    topology: topologyChanged ? model.topology + 1 : model.topology,
    loaded: true,
    trustDomain: snapshot.trustDomain,
    mode: snapshot.mode,
    ttlMs: snapshot.ttlMs,
    startedAt: snapshot.startedAt,
    entryUrl: snapshot.entryUrl,
    ca: {
      keyType: snapshot.ca.keyType,
      intermediate: snapshot.ca.intermediate,
      bundleSequence: snapshot.ca.bundleSequence,
      authorities,
      bundle: stale ? base.ca.bundle : authorities.filter((a) => a.status !== 'retired').map((a) => a.serial),
      overlaps: base.ca.overlaps,
    },
    policy: { mode: snapshot.policy.mode, rules: snapshot.policy.rules },
    nodes,
    edges,
    byId: new Map(snapshot.services.map((s) => [s.spiffeId, s.name])),
    lastSeq: sameRun ? base.lastSeq : 0,
  };
  const replayed = applyEvents(loaded, snapshot.recentEvents, limits, { live: false });
  // The replay may have walked a certificate through older serials: the snapshot has the last word.
  const final = new Map(replayed.nodes);
  for (const s of snapshot.services) {
    const n = final.get(s.name);
    if (n !== undefined) final.set(s.name, assertCurrent(n, s, limits, stale));
  }
  return { ...replayed, nodes: final, revision: model.revision + 1 };
}

function sameNodeSet(a: ReadonlyMap<string, NodeView>, b: ReadonlyMap<string, NodeView>): boolean {
  if (a.size !== b.size) return false;
  for (const id of a.keys()) if (!b.has(id)) return false;
  return true;
}

function serviceNode(s: ServiceSnapshot, prev: NodeView | undefined, stale: boolean): NodeView {
  return {
    id: s.name,
    kind: 'service',
    name: s.name,
    spiffeId: s.spiffeId,
    mode: s.mode,
    entry: s.entry,
    state: stale && prev !== undefined ? prev.state : s.state,
    meshPort: s.meshPort,
    servicePort: s.servicePort,
    upstreams: s.upstreams.map((u) => u.service),
    files: s.files,
    cert: prev?.cert,
    bars: prev?.bars ?? [],
    rotations: stale && prev !== undefined ? Math.max(prev.rotations, s.rotations) : s.rotations,
    lastRotationAt: s.lastRotation !== undefined ? parseTime(s.lastRotation) : prev?.lastRotationAt,
    pulses: prev?.pulses ?? 0,
    lastFailure: prev?.lastFailure,
    presented: [],
    attacks: 0,
    breaches: 0,
  };
}

/** Makes the node's current certificate the snapshot's, adding a bar when the page had not seen it; never an older one. */
function assertCurrent(n: NodeView, s: ServiceSnapshot, limits: StoreLimits, stale: boolean): NodeView {
  const notBefore = parseTime(s.notBefore);
  const notAfter = parseTime(s.notAfter);
  const rotations = stale ? Math.max(n.rotations, s.rotations) : s.rotations;
  const current = n.cert;
  if (current !== undefined && (current.serial === s.serial || current.notBefore > notBefore)) {
    return n.rotations === rotations ? n : { ...n, rotations };
  }
  const bar: CertBar = { serial: s.serial, notBefore, notAfter, issuedAt: notBefore, cause: 'snapshot' };
  const known = n.bars.findIndex((b) => b.serial === s.serial);
  let bars: CertBar[];
  if (known >= 0) {
    bars = n.bars.slice(0, known + 1);
    const last = bars[bars.length - 1];
    if (last !== undefined && last.replacedAt !== undefined) bars[bars.length - 1] = { ...last, replacedAt: undefined };
  } else {
    bars = closeLast(n.bars, notBefore);
    bars.push(bar);
  }
  bars = bars.slice(-limits.maxBarsPerService);
  return { ...n, bars, cert: bars[bars.length - 1], rotations };
}

function caAuthority(a: CaAuthoritySnapshot, prev: CaAuthorityView | undefined): CaAuthorityView {
  const notBefore = parseTime(a.notBefore);
  // Without events the page does not know when a root changed phase; its notBefore is the best guess.
  return {
    ...a,
    preparedAt: prev?.preparedAt ?? (a.status === 'prepared' ? notBefore : undefined),
    activatedAt: prev?.activatedAt ?? (a.status !== 'prepared' ? notBefore : undefined),
    oldAt: prev?.oldAt,
    retiredAt: a.status === 'retired' ? prev?.retiredAt : undefined,
  };
}

// ── events ───────────────────────────────────────────────────────────────────────────────────

/** Reasons that mean the caller's identity was not verified: an unverified caller is never drawn as the service it claimed to be. */
const UNVERIFIED: ReadonlySet<RejectReason> = new Set<RejectReason>([
  'no-client-cert',
  'unknown-ca',
  'expired',
  'not-yet-valid',
  'not-an-svid',
  'wrong-trust-domain',
  'plaintext-on-mtls-port',
  'revoked',
]);

interface ApplyOptions {
  /** False while replaying a snapshot's history: nothing pulses for the past. */
  readonly live: boolean;
}

/** Folds events in, in order; events at or below the last sequence number seen are skipped. */
export function applyEvents(
  model: ViewModel,
  events: readonly MeshEvent[],
  limits: StoreLimits = DEFAULT_LIMITS,
  options: ApplyOptions = { live: true },
): ViewModel {
  if (events.length === 0) return model;
  const d = new Draft(model, limits, options.live);
  for (const e of events) d.apply(e);
  return d.finish();
}

/** Copy-on-write over one batch: each touched node or edge is copied once, then changed in place. */
class Draft {
  private readonly nodes: Map<string, NodeView>;
  private readonly edges: Map<string, EdgeView>;
  private readonly ownNodes = new Set<string>();
  private readonly ownEdges = new Set<string>();
  private readonly newLog: LogEntry[] = [];
  private ca: ViewModel['ca'];
  private policy: ViewModel['policy'];
  private meshState: string | undefined;
  private lastSeq: number;
  private seen = 0;
  private topologyChanged = false;
  private changed = false;

  constructor(
    private readonly model: ViewModel,
    private readonly limits: StoreLimits,
    private readonly live: boolean,
  ) {
    this.nodes = new Map(model.nodes);
    this.edges = new Map(model.edges);
    this.ca = model.ca;
    this.policy = model.policy;
    this.meshState = model.meshState;
    this.lastSeq = model.lastSeq;
  }

  apply(e: MeshEvent): void {
    if (e.seq <= this.lastSeq) return;
    this.lastSeq = e.seq;
    this.seen++;
    this.changed = true;
    const t = parseTime(e.time);
    switch (e.type) {
      case 'svid/issued':
        return this.onIssued(e, t);
      case 'svid/failed': {
        this.updateNode(e.service, (n) => ({ ...n, lastFailure: { time: t, error: e.error, retryInMs: e.retryInMs } }));
        return this.addLog(e, t, 'identity', 'bad', [e.service]);
      }
      case 'ca/changed':
        return this.onCa(e, t);
      case 'handshake': {
        const source = this.resolve(e.caller, false);
        const target = this.resolve(e.callee, false);
        const edge = this.edgeForWrite(source, target);
        const first = edge.handshakes === 0 && edge.requests === 0;
        edge.handshakes++;
        this.ok(edge, t, e.caller.spiffeId !== undefined);
        this.callerId(edge, e.caller, true);
        this.present(source, e.caller);
        if (first) this.addLog(e, t, 'traffic', 'ok', [source, target]);
        return;
      }
      case 'call': {
        const source = this.resolve(e.caller, false);
        const target = this.resolve(e.callee, false);
        const edge = this.edgeForWrite(source, target);
        const first = edge.handshakes === 0 && edge.requests === 0;
        edge.requests += e.requests;
        edge.bytesIn += e.bytesIn;
        edge.bytesOut += e.bytesOut;
        addToBuckets(edge, t, e.requests, this.limits.rateWindowSeconds);
        this.ok(edge, t, e.plaintext !== true && e.caller.spiffeId !== undefined);
        this.callerId(edge, e.caller, e.plaintext !== true);
        this.present(source, e.caller);
        if (first || e.plaintext === true) this.addLog(e, t, 'traffic', e.plaintext === true ? 'warn' : 'ok', [source, target]);
        return;
      }
      case 'rejection': {
        const unverified = e.side === 'server' && UNVERIFIED.has(e.reason);
        const source = unverified ? this.ensureIntruder() : this.resolve(e.caller, true);
        const target = this.resolve(e.callee, true);
        const edge = this.edgeForWrite(source, target);
        edge.lastRejectAt = t;
        edge.rejections++;
        edge.state = stateOf(edge);
        const r: RejectionView = { seq: e.seq, time: t, side: e.side, reason: e.reason, detail: e.detail, rule: e.rule, callerId: e.caller.spiffeId, calleeId: e.callee.spiffeId };
        edge.recentRejections = [...edge.recentRejections, r].slice(-this.limits.maxRejectionsPerEdge);
        this.callerId(edge, e.caller, !unverified);
        this.present(source, e.caller);
        return this.addLog(e, t, 'rejection', 'bad', [source, target], e.reason);
      }
      case 'policy/decision': {
        const source = this.resolve(e.caller, !e.allowed);
        const target = this.resolve(e.callee, !e.allowed);
        const edge = this.edgeForWrite(source, target);
        // Not logged: a denial also comes as a rejection, which carries the rule and the explanation.
        edge.lastDecision = { time: t, allowed: e.allowed, rule: e.rule, explanation: e.explanation };
        return;
      }
      case 'policy/changed': {
        const rules = e.change === 'removed'
          ? this.policy.rules.filter((r) => r.name !== e.rule)
          // The event names the rule only; a fresh snapshot brings its callers and callees.
          : this.policy.rules.some((r) => r.name === e.rule) ? this.policy.rules : [...this.policy.rules, { name: e.rule, from: [], to: [] }];
        this.policy = { ...this.policy, rules };
        return this.addLog(e, t, 'policy', 'info', []);
      }
      case 'service/state': {
        this.updateNode(e.service, (n) => (n.state === e.state ? n : { ...n, state: e.state }));
        const bad = e.state === 'failed' || e.state === 'exited';
        return this.addLog(e, t, 'service', bad ? 'bad' : 'info', [e.service]);
      }
      case 'attack':
        return this.onAttack(e, t);
      case 'mesh/state':
        this.meshState = e.state;
        return this.addLog(e, t, 'mesh', 'info', []);
    }
  }

  finish(): ViewModel {
    if (!this.changed) return this.model;
    let log = this.model.log as LogEntry[];
    if (this.newLog.length > 0) {
      const max = this.limits.maxLogEntries;
      const keepOld = Math.max(0, max - this.newLog.length);
      log = [...log.slice(Math.max(0, log.length - keepOld)), ...this.newLog.slice(-max)];
    }
    return {
      ...this.model,
      revision: this.model.revision + 1,
      topology: this.topologyChanged ? this.model.topology + 1 : this.model.topology,
      nodes: this.nodes,
      edges: this.edges,
      ca: this.ca,
      policy: this.policy,
      meshState: this.meshState,
      log,
      lastSeq: this.lastSeq,
      eventsSeen: this.model.eventsSeen + this.seen,
    };
  }

  private onIssued(e: Extract<MeshEvent, { type: 'svid/issued' }>, t: number): void {
    const issuer = this.ca.authorities.find((a) => a.status === 'active')?.serial;
    const bar: CertBar = { serial: e.serial, notBefore: parseTime(e.notBefore), notAfter: parseTime(e.notAfter), issuedAt: t, cause: e.cause, issuer };
    const rotation = e.cause !== 'start';
    this.updateNode(e.service, (n) => {
      if (n.cert?.serial === e.serial) return n;
      const bars = closeLast(n.bars, t);
      bars.push(bar);
      const trimmed = bars.slice(-this.limits.maxBarsPerService);
      return {
        ...n,
        bars: trimmed,
        cert: bar,
        rotations: rotation ? n.rotations + 1 : n.rotations,
        lastRotationAt: rotation ? t : n.lastRotationAt,
        pulses: this.live && rotation ? n.pulses + 1 : n.pulses,
        lastFailure: undefined,
      };
    });
    this.addLog(e, t, 'identity', 'ok', [e.service]);
  }

  private onCa(e: Extract<MeshEvent, { type: 'ca/changed' }>, t: number): void {
    const inBundle = new Set(e.bundle);
    const authorities: CaAuthorityView[] = [];
    let found = false;
    for (const a of this.ca.authorities) {
      let next: CaAuthorityView = a;
      if (a.serial === e.serial) {
        found = true;
        next = withPhase(a, e.phase, t);
      } else if ((e.phase === 'activated' || e.phase === 'created') && a.status === 'active') {
        // A root stops signing when another one starts, and stays trusted for what it signed.
        next = { ...a, status: 'old', oldAt: t };
      }
      if (!inBundle.has(a.serial) && next.status !== 'retired') next = withPhase(next, 'retired', t);
      authorities.push(next);
    }
    if (!found) {
      const created: CaAuthorityView = {
        serial: e.serial,
        status: 'prepared',
        notBefore: new Date(t).toISOString(),
        notAfter: e.notAfter,
        keyType: this.ca.keyType,
        subject: '',
      };
      authorities.push(withPhase(created, e.phase, t));
    }
    let overlaps = this.ca.overlaps;
    const open = overlaps.length > 0 && overlaps[overlaps.length - 1]?.to === undefined;
    if (e.bundle.length > 1) {
      if (open) overlaps = [...overlaps.slice(0, -1), { ...(overlaps[overlaps.length - 1] as CaOverlap), serials: [...e.bundle] }];
      else overlaps = [...overlaps, { from: t, serials: [...e.bundle] }].slice(-this.limits.maxOverlaps);
    } else if (open) {
      overlaps = [...overlaps.slice(0, -1), { ...(overlaps[overlaps.length - 1] as CaOverlap), to: t }];
    }
    this.ca = { ...this.ca, authorities, bundle: [...e.bundle], overlaps, bundleSequence: this.ca.bundleSequence + 1 };
    this.addLog(e, t, 'ca', 'info', []);
  }

  private onAttack(e: Extract<MeshEvent, { type: 'attack' }>, t: number): void {
    const source = this.ensureIntruder();
    const target = this.resolve({ service: e.target }, true);
    this.updateNode(source, (n) => ({ ...n, attacks: n.attacks + 1, breaches: e.rejected ? n.breaches : n.breaches + 1 }));
    const edge = this.edgeForWrite(source, target);
    if (e.rejected) {
      const last = edge.recentRejections[edge.recentRejections.length - 1];
      if (last !== undefined && last.reason === e.reason && t - last.time < 10_000) {
        // The target's sidecar already said why; the attack event only names the scenario.
        edge.recentRejections = [...edge.recentRejections.slice(0, -1), { ...last, scenario: e.scenario }];
      } else if (e.reason !== undefined) {
        // A native target refuses inside its own TLS stack: the intruder's report is the evidence.
        edge.lastRejectAt = t;
        edge.rejections++;
        const r: RejectionView = { seq: e.seq, time: t, side: 'server', reason: e.reason, detail: e.detail, scenario: e.scenario };
        edge.recentRejections = [...edge.recentRejections, r].slice(-this.limits.maxRejectionsPerEdge);
      }
    } else {
      edge.breachedAt = t;
    }
    edge.state = stateOf(edge);
    this.addLog(e, t, 'attack', e.rejected ? 'ok' : 'bad', [source, target], e.reason);
  }

  /** The node id for a peer. A peer that is no mesh service is the intruder when refused, else the outside. */
  private resolve(peer: Peer, refused: boolean): string {
    if (peer.service !== undefined && this.nodes.get(peer.service)?.kind === 'service') return peer.service;
    if (peer.spiffeId !== undefined) {
      const id = this.model.byId.get(peer.spiffeId);
      if (id !== undefined) return id;
    }
    return refused ? this.ensureIntruder() : this.ensureOutside();
  }

  private ensureIntruder(): string {
    return this.ensureExtra(INTRUDER_ID, 'intruder', 'intruder');
  }

  private ensureOutside(): string {
    return this.ensureExtra(OUTSIDE_ID, 'outside', 'outside the mesh');
  }

  private ensureExtra(id: string, kind: NodeKind, name: string): string {
    if (!this.nodes.has(id)) {
      this.nodes.set(id, { id, kind, name, entry: false, state: 'running', upstreams: [], bars: [], rotations: 0, pulses: 0, presented: [], attacks: 0, breaches: 0 });
      this.topologyChanged = true;
    }
    return id;
  }

  /** Records what an intruder or outside caller presented. */
  private present(nodeId: string, peer: Peer): void {
    const n = this.nodes.get(nodeId);
    if (n === undefined || n.kind === 'service') return;
    const label = peer.spiffeId ?? (peer.address !== undefined ? `no identity (${peer.address.replace(/:\d+$/, '')})` : 'no identity');
    if (n.presented[n.presented.length - 1] === label) return;
    this.updateNode(nodeId, (m) => ({ ...m, presented: [...m.presented.filter((p) => p !== label), label].slice(-5) }));
  }

  private updateNode(id: string, change: (n: NodeView) => NodeView): void {
    const n = this.nodes.get(id);
    if (n === undefined) return;
    const next = change(n);
    if (next !== n) {
      this.nodes.set(id, next);
      this.ownNodes.add(id);
    }
  }

  private edgeForWrite(source: string, target: string): MutableEdge {
    const id = edgeId(source, target);
    const current = this.edges.get(id);
    if (current !== undefined && this.ownEdges.has(id)) return current as MutableEdge;
    const copy: MutableEdge = current === undefined ? newEdge(source, target, false, this.limits) : { ...current, buckets: [...current.buckets] };
    this.edges.set(id, copy);
    this.ownEdges.add(id);
    return copy;
  }

  private callerId(edge: MutableEdge, peer: Peer, verified: boolean): void {
    const id = peer.spiffeId;
    if (!verified || id === undefined || edge.callerIds[edge.callerIds.length - 1] === id) return;
    edge.callerIds = [...edge.callerIds.filter((c) => c !== id), id].slice(-5);
  }

  private ok(edge: MutableEdge, t: number, mtls: boolean): void {
    edge.lastOkAt = t;
    edge.mtls = mtls;
    edge.state = stateOf(edge);
  }

  private addLog(e: MeshEvent, t: number, category: LogCategory, severity: Severity, subjects: readonly string[], reason?: RejectReason): void {
    this.newLog.push({ seq: e.seq, time: t, type: e.type, category, severity, text: describeEvent(e), reason, subjects });
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type MutableEdge = Mutable<EdgeView> & { buckets: number[] };

function newEdge(source: string, target: string, declared: boolean, limits: StoreLimits): MutableEdge {
  return {
    id: edgeId(source, target),
    source,
    target,
    declared,
    state: 'idle',
    mtls: false,
    requests: 0,
    bytesIn: 0,
    bytesOut: 0,
    handshakes: 0,
    rejections: 0,
    recentRejections: [],
    callerIds: [],
    buckets: new Array<number>(limits.rateWindowSeconds).fill(0),
    bucketEnd: 0,
  };
}

function stateOf(e: MutableEdge): EdgeState {
  const ok = e.lastOkAt ?? -Infinity;
  const rejected = e.lastRejectAt ?? -Infinity;
  const breached = e.breachedAt ?? -Infinity;
  if (breached > -Infinity && breached >= rejected) return 'breached';
  if (rejected > -Infinity && rejected >= ok) return 'rejected';
  if (ok > -Infinity) return e.mtls ? 'locked' : 'ok';
  return 'idle';
}

function withPhase(a: CaAuthorityView, phase: 'prepared' | 'activated' | 'retired' | 'created', t: number): CaAuthorityView {
  switch (phase) {
    case 'prepared':
      return { ...a, status: 'prepared', preparedAt: a.preparedAt ?? t };
    case 'activated':
    case 'created':
      return { ...a, status: 'active', activatedAt: t };
    case 'retired':
      return { ...a, status: 'retired', retiredAt: a.retiredAt ?? t };
  }
}

function closeLast(bars: readonly CertBar[], at: number): CertBar[] {
  const out = bars.slice();
  const last = out[out.length - 1];
  if (last !== undefined && last.replacedAt === undefined) out[out.length - 1] = { ...last, replacedAt: at };
  return out;
}

function addToBuckets(edge: MutableEdge, t: number, n: number, window: number): void {
  const sec = Math.floor(t / 1000);
  if (sec > edge.bucketEnd) {
    const gap = Math.min(sec - edge.bucketEnd, window);
    for (let i = 0; i < gap; i++) edge.buckets[(sec - i) % window] = 0;
    edge.bucketEnd = sec;
  } else if (sec <= edge.bucketEnd - window) {
    return;
  }
  edge.buckets[sec % window] = (edge.buckets[sec % window] ?? 0) + n;
}

function parseTime(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t;
}

// ── questions the page asks the model ────────────────────────────────────────────────────────

/** Mean requests per second over the window of whole seconds ending at `now`'s second. */
export function edgeRate(edge: EdgeView, now: number): number {
  const window = edge.buckets.length;
  if (window === 0) return 0;
  const nowSec = Math.floor(now / 1000);
  let sum = 0;
  for (let s = nowSec - window + 1; s <= nowSec; s++) {
    if (s > edge.bucketEnd || s <= edge.bucketEnd - window) continue;
    sum += edge.buckets[((s % window) + window) % window] ?? 0;
  }
  return sum / window;
}

export interface LogFilter {
  /** Case-insensitive; matches the sentence, the reason or a subject. */
  readonly text?: string;
  readonly category?: LogCategory | 'problems' | 'all';
  /** Only entries about this node. */
  readonly subject?: string;
  /** Newest first, at most this many. */
  readonly limit?: number;
}

/** The log entries a filter keeps, newest first. */
export function filterLog(log: readonly LogEntry[], filter: LogFilter): LogEntry[] {
  const text = filter.text?.trim().toLowerCase() ?? '';
  const category = filter.category ?? 'all';
  const limit = filter.limit ?? Infinity;
  const out: LogEntry[] = [];
  for (let i = log.length - 1; i >= 0 && out.length < limit; i--) {
    const e = log[i] as LogEntry;
    if (category === 'problems' ? e.severity !== 'bad' && e.severity !== 'warn' : category !== 'all' && e.category !== category) continue;
    if (filter.subject !== undefined && !e.subjects.includes(filter.subject)) continue;
    if (text !== '' && !e.text.toLowerCase().includes(text) && !(e.reason ?? '').includes(text) && !e.subjects.some((s) => s.toLowerCase().includes(text))) continue;
    out.push(e);
  }
  return out;
}

function callerMatches(rule: PolicyRuleSnapshot, spiffeId: string): boolean {
  const from = rule.from;
  if ('memberOf' in from) return spiffeId.startsWith(`spiffe://${from.memberOf}/`);
  return from.includes(spiffeId);
}

/** The rules that let this service be called (inbound) and that let it call others (outbound). */
export function rulesForNode(model: ViewModel, nodeId: string): { inbound: PolicyRuleSnapshot[]; outbound: PolicyRuleSnapshot[] } {
  const ids = identitiesOf(model, nodeId);
  return {
    inbound: model.policy.rules.filter((r) => ids.some((id) => r.to.includes(id))),
    outbound: model.policy.rules.filter((r) => ids.some((id) => callerMatches(r, id))),
  };
}

/** The rules that allow this call, for any identity its caller presented. */
export function rulesForEdge(model: ViewModel, edge: EdgeView): PolicyRuleSnapshot[] {
  const callers = identitiesOf(model, edge.source, edge);
  const callees = identitiesOf(model, edge.target);
  return model.policy.rules.filter((r) => callers.some((c) => callerMatches(r, c)) && callees.some((c) => r.to.includes(c)));
}

/** The identities a node called with that the mesh verified: a service's own, else those seen on its calls. */
function identitiesOf(model: ViewModel, nodeId: string, edge?: EdgeView): string[] {
  const n = model.nodes.get(nodeId);
  if (n === undefined) return [];
  if (n.spiffeId !== undefined) return [n.spiffeId];
  // An intruder's claimed identity is never treated as its own: only verified callers count.
  const edges = edge !== undefined ? [edge] : [...model.edges.values()].filter((e) => e.source === nodeId);
  return [...new Set(edges.flatMap((e) => e.callerIds))];
}

/** True when the reason means the caller's identity was not verified at all. */
export function isUnverified(reason: RejectReason): boolean {
  return UNVERIFIED.has(reason);
}

/** What "allow this call" would add, when the last word on the edge was a policy denial of a verified caller. */
export function allowableCall(model: ViewModel, edge: EdgeView): { from: string; to: string } | undefined {
  if (edge.state !== 'rejected') return undefined;
  const last = edge.recentRejections[edge.recentRejections.length - 1];
  if (last === undefined || last.reason !== 'denied-by-policy') return undefined;
  const from = last.callerId ?? model.nodes.get(edge.source)?.spiffeId;
  const to = last.calleeId ?? model.nodes.get(edge.target)?.spiffeId;
  return from !== undefined && to !== undefined ? { from, to } : undefined;
}

export interface ChainLink {
  readonly role: 'leaf' | 'intermediate' | 'root';
  /** The SPIFFE ID for the leaf, the subject for a CA. */
  readonly name: string;
  readonly serial?: string;
  readonly notBefore?: number;
  readonly notAfter?: number;
  readonly keyType: string;
  readonly issuer: string;
  readonly status?: CaAuthorityView['status'];
}

/** The decoded chain of a service's current certificate, as far as the snapshot and events tell. */
export function certificateChain(model: ViewModel, nodeId: string): ChainLink[] {
  const n = model.nodes.get(nodeId);
  if (n === undefined || n.cert === undefined || n.spiffeId === undefined) return [];
  const cert = n.cert;
  const roots = model.ca.authorities;
  const root =
    roots.find((a) => a.serial === cert.issuer) ??
    roots.filter((a) => a.status !== 'prepared' && (a.activatedAt ?? 0) <= cert.issuedAt).sort((a, b) => (b.activatedAt ?? 0) - (a.activatedAt ?? 0))[0] ??
    roots.find((a) => a.status === 'active');
  const rootName = root?.subject || (root !== undefined ? `root ${root.serial}` : 'unknown root');
  const links: ChainLink[] = [];
  const intermediate = model.ca.intermediate ? `intermediate CA under ${rootName}` : undefined;
  links.push({ role: 'leaf', name: n.spiffeId, serial: cert.serial, notBefore: cert.notBefore, notAfter: cert.notAfter, keyType: model.ca.keyType, issuer: intermediate ?? rootName });
  if (intermediate !== undefined) links.push({ role: 'intermediate', name: intermediate, keyType: model.ca.keyType, issuer: rootName });
  if (root !== undefined) {
    links.push({ role: 'root', name: rootName, serial: root.serial, notBefore: parseTime(root.notBefore), notAfter: parseTime(root.notAfter), keyType: root.keyType, issuer: 'self-signed', status: root.status });
  }
  return links;
}
