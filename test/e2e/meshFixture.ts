// Synthetic meshes and events for the page's tests and the graph benchmark: a snapshot shaped as
// the daemon sends it, and an event factory that stamps seq and time like the EventBus does.
// Pure (no Node, no DOM), so the store test, the browser test and bench/graph.ts share it.
import type { MeshEvent, MeshEventInput, Peer, RejectReason } from '../../src/core/events/types.js';
import type { MeshSnapshot, ServiceSnapshot } from '../../src/protocol/snapshot.js';

export const TRUST_DOMAIN = 'lab.local';
export const SIX_SERVICES = ['frontend', 'orders', 'billing', 'payments', 'inventory', 'shipping'] as const;

/** The sample shop's calls plus one more, for six services. */
const SIX_UPSTREAMS: Readonly<Record<string, readonly string[]>> = {
  frontend: ['orders'],
  orders: ['billing', 'inventory', 'shipping'],
  billing: ['payments'],
  payments: [],
  inventory: [],
  shipping: [],
};

export function spiffeIdOf(service: string): string {
  return `spiffe://${TRUST_DOMAIN}/ns/default/sa/${service}`;
}

export function serialOf(service: string, generation: number): string {
  let hash = 0;
  for (const c of service) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return `${hash.toString(16).padStart(8, '0')}${generation.toString(16).padStart(8, '0')}`;
}

/** Names for an n-service mesh: the six sample names, or svc-000… beyond six. */
export function serviceNames(n: number): string[] {
  if (n === SIX_SERVICES.length) return [...SIX_SERVICES];
  return Array.from({ length: n }, (_, i) => `svc-${String(i).padStart(3, '0')}`);
}

/** Upstreams: the shop's for six; otherwise a layered tree (i calls 2i+1 and 2i+2) with a few cross calls. */
export function upstreamsOf(names: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const six = names.length === SIX_SERVICES.length && names.every((n, i) => n === SIX_SERVICES[i]);
  names.forEach((name, i) => {
    if (six) out.set(name, [...(SIX_UPSTREAMS[name] ?? [])]);
    else {
      const ups = [2 * i + 1, 2 * i + 2].filter((j) => j < names.length).map((j) => names[j] as string);
      if (i % 7 === 3 && i + 9 < names.length) ups.push(names[i + 9] as string);
      out.set(name, ups);
    }
  });
  return out;
}

export interface SnapshotOptions {
  readonly services: number;
  readonly now: number;
  readonly ttlMs?: number;
  readonly startedAt?: string;
  readonly recentEvents?: readonly MeshEvent[];
}

export const ROOT_SERIAL = '7a11ab1e00000001';

export function meshSnapshot(o: SnapshotOptions): MeshSnapshot {
  const ttl = o.ttlMs ?? 5 * 60_000;
  const names = serviceNames(o.services);
  const ups = upstreamsOf(names);
  const services: ServiceSnapshot[] = names.map((name, i) => {
    // Staggered ages, so the countdowns differ.
    const issued = o.now - ((i * 37_000) % Math.floor(ttl / 2));
    return {
      name,
      spiffeId: spiffeIdOf(name),
      mode: name === 'inventory' ? 'native' : 'sidecar',
      entry: i === 0,
      state: 'running',
      pid: 1000 + i,
      serial: serialOf(name, 1),
      notBefore: new Date(issued - 30_000).toISOString(),
      notAfter: new Date(issued + ttl).toISOString(),
      rotations: 0,
      meshPort: 20_000 + i,
      servicePort: 30_000 + i,
      upstreams: (ups.get(name) ?? []).map((u) => ({ service: u, spiffeId: spiffeIdOf(u), localPort: 40_000 + i })),
      files: { cert: `/state/svids/${name}/svid.pem`, key: `/state/svids/${name}/svid_key.pem`, bundle: `/state/svids/${name}/svid_bundle.pem` },
    };
  });
  return {
    trustDomain: TRUST_DOMAIN,
    mode: 'strict',
    ttlMs: ttl,
    startedAt: o.startedAt ?? new Date(o.now - 60_000).toISOString(),
    ca: {
      keyType: 'ec-p256',
      intermediate: false,
      bundleSequence: 1,
      authorities: [
        {
          serial: ROOT_SERIAL,
          status: 'active',
          notBefore: new Date(o.now - 86_400_000).toISOString(),
          notAfter: new Date(o.now + 365 * 86_400_000).toISOString(),
          keyType: 'ec-p256',
          subject: `CN=mTLS Lab root CA, O=${TRUST_DOMAIN}`,
        },
      ],
    },
    services,
    policy: {
      mode: 'strict',
      rules: names.flatMap((name) => (ups.get(name) ?? []).map((u) => ({ name: `${name}-to-${u}`, from: [spiffeIdOf(name)], to: [spiffeIdOf(u)] }))),
    },
    recentEvents: o.recentEvents ?? [],
  };
}

/** Stamps events with increasing seq and the given (or current) time, as the daemon's bus does. */
export class EventFactory {
  private seq: number;

  constructor(startSeq = 0) {
    this.seq = startSeq;
  }

  get lastSeq(): number {
    return this.seq;
  }

  stamp(input: MeshEventInput, time: number = Date.now()): MeshEvent {
    this.seq++;
    return { ...input, seq: this.seq, time: new Date(time).toISOString() } as MeshEvent;
  }

  peer(service: string): Peer {
    return { service, spiffeId: spiffeIdOf(service), address: '127.0.0.1:50000' };
  }

  call(from: string, to: string, requests: number, time?: number): MeshEvent {
    return this.stamp({ type: 'call', caller: this.peer(from), callee: this.peer(to), requests, bytesIn: requests * 200, bytesOut: requests * 900 }, time);
  }

  handshake(from: string, to: string, time?: number): MeshEvent {
    return this.stamp({ type: 'handshake', caller: this.peer(from), callee: this.peer(to), resumed: false, protocol: 'TLSv1.3' }, time);
  }

  rotation(service: string, generation: number, ttlMs: number, time: number = Date.now()): MeshEvent {
    return this.stamp(
      {
        type: 'svid/issued',
        service,
        spiffeId: spiffeIdOf(service),
        serial: serialOf(service, generation),
        previousSerial: serialOf(service, generation - 1),
        notBefore: new Date(time - 30_000).toISOString(),
        notAfter: new Date(time + ttlMs).toISOString(),
        cause: 'rotation',
      },
      time,
    );
  }

  /** A refusal by `callee`'s sidecar of a caller at `address` that presented `claimedId` (or nothing). */
  rejection(callee: string, reason: RejectReason, detail: string, caller: Peer, time?: number, rule?: string): MeshEvent {
    const input = { type: 'rejection' as const, side: 'server' as const, reason, detail, caller, callee: this.peer(callee) };
    return this.stamp(rule === undefined ? input : { ...input, rule }, time);
  }

  attack(scenario: string, target: string, reason: RejectReason, time?: number): MeshEvent {
    return this.stamp({ type: 'attack', scenario, target, rejected: true, reason, detail: `The intruder tried ${scenario}; ${target} refused it: ${reason}.` }, time);
  }
}

/** A deterministic pseudo-random source (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` events of busy traffic at `time` on the snapshot's declared calls: mostly calls, some
 * handshakes, now and then a rotation, a policy denial or an intruder's refusal.
 */
export function trafficEvents(snapshot: MeshSnapshot, factory: EventFactory, count: number, time: number, random: () => number, generations: Map<string, number>): MeshEvent[] {
  const calls: [string, string][] = snapshot.services.flatMap((s) => s.upstreams.map((u) => [s.name, u.service] as [string, string]));
  const names = snapshot.services.map((s) => s.name);
  const out: MeshEvent[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    const [from, to] = calls[Math.floor(random() * calls.length)] ?? ['a', 'b'];
    if (r < 0.85) out.push(factory.call(from, to, 1 + Math.floor(random() * 3), time));
    else if (r < 0.95) out.push(factory.handshake(from, to, time));
    else if (r < 0.97) {
      const name = names[Math.floor(random() * names.length)] as string;
      const g = (generations.get(name) ?? 1) + 1;
      generations.set(name, g);
      out.push(factory.rotation(name, g, snapshot.ttlMs, time));
    } else if (r < 0.99) {
      out.push(factory.rejection(from, 'denied-by-policy', `${spiffeIdOf(to)} may not call ${spiffeIdOf(from)}: no rule allows it.`, factory.peer(to), time, 'default-deny'));
    } else {
      out.push(factory.rejection(to, 'unknown-ca', 'the client certificate chains to no root in the lab.local bundle.', { spiffeId: spiffeIdOf(from), address: '127.0.0.1:61000' }, time));
    }
  }
  return out;
}

/**
 * A mesh that exists only as its snapshot: events recorded here update the services' current
 * certificates and the recent history, so a page that (re)connects gets a snapshot that agrees
 * with the events it missed, as from the daemon.
 */
export class FakeMesh {
  private current: MeshSnapshot;
  private readonly recent: MeshEvent[] = [];

  constructor(snapshot: MeshSnapshot, private readonly keepRecent = 200) {
    this.current = snapshot;
  }

  record(events: readonly MeshEvent[]): void {
    for (const e of events) {
      if (e.type === 'svid/issued') {
        this.current = {
          ...this.current,
          services: this.current.services.map((s) =>
            s.name === e.service ? { ...s, serial: e.serial, notBefore: e.notBefore, notAfter: e.notAfter, rotations: s.rotations + (e.cause === 'start' ? 0 : 1), lastRotation: e.time } : s,
          ),
        };
      }
      // Calls are the bulk of the stream; the daemon's recent history favours what people read.
      if (e.type !== 'call' && e.type !== 'handshake') this.recent.push(e);
    }
    if (this.recent.length > this.keepRecent) this.recent.splice(0, this.recent.length - this.keepRecent);
  }

  snapshot(): MeshSnapshot {
    return { ...this.current, recentEvents: [...this.recent] };
  }
}
