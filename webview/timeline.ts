// The rotation timeline as geometry: lanes of bars and ticks in a time window, positions as
// fractions of its width. Pure, so the test checks it and the SVG renderer only scales it.
import type { CaAuthorityView, NodeView, ViewModel } from './store.js';

export type SegmentKind = 'prepared' | 'active' | 'old' | 'retired' | 'valid' | 'in-use' | 'overlap';

export interface Segment {
  readonly x0: number;
  readonly x1: number;
  readonly kind: SegmentKind;
  /** For a tooltip and the accessible name. */
  readonly label: string;
}

export interface Lane {
  readonly id: string;
  readonly label: string;
  readonly kind: 'ca' | 'service';
  readonly segments: readonly Segment[];
  /** Rotations, as x positions. */
  readonly ticks: readonly number[];
}

export interface TimelineLayout {
  readonly from: number;
  readonly to: number;
  /** Where now is, 0..1. */
  readonly now: number;
  readonly lanes: readonly Lane[];
  /** Bands across the CA lanes while the bundle held more than one root. */
  readonly overlaps: readonly Segment[];
  /** Services not drawn because of `maxServiceLanes`. */
  readonly hidden: number;
}

export interface TimelineOptions {
  readonly now: number;
  /** Drawn first, whatever the limit. */
  readonly selected?: string;
  readonly maxServiceLanes?: number;
}

const DEFAULT_TTL_MS = 5 * 60_000;

/** The window is two lifetimes back and one ahead: enough for several rotations and the current certificate's end. */
export function timelineLayout(model: ViewModel, options: TimelineOptions): TimelineLayout {
  const ttl = model.ttlMs > 0 ? model.ttlMs : DEFAULT_TTL_MS;
  const now = options.now;
  const from = now - 2 * ttl;
  const to = now + ttl;
  const x = (t: number): number => Math.max(0, Math.min(1, (t - from) / (to - from)));
  const seg = (a: number, b: number, kind: SegmentKind, label: string): Segment | undefined => {
    const x0 = x(a);
    const x1 = x(b);
    return x1 > x0 ? { x0, x1, kind, label } : undefined;
  };
  const lanes: Lane[] = model.ca.authorities.map((a) => caLane(a, to, seg));
  const services = [...model.nodes.values()].filter((n) => n.kind === 'service');
  const max = options.maxServiceLanes ?? 40;
  const selected = services.find((n) => n.id === options.selected);
  const ordered = selected === undefined ? services : [selected, ...services.filter((n) => n !== selected)];
  for (const n of ordered.slice(0, max)) lanes.push(serviceLane(n, now, seg, x));
  const overlaps = model.ca.overlaps
    .map((o) => seg(o.from, o.to ?? now, 'overlap', `bundle held ${o.serials.length} roots: ${o.serials.join(', ')}`))
    .filter((s): s is Segment => s !== undefined);
  return { from, to, now: x(now), lanes, overlaps, hidden: Math.max(0, ordered.length - max) };
}

type Seg = (a: number, b: number, kind: SegmentKind, label: string) => Segment | undefined;

function caLane(a: CaAuthorityView, to: number, seg: Seg): Lane {
  const segments: (Segment | undefined)[] = [];
  const end = a.retiredAt ?? to;
  if (a.preparedAt !== undefined) segments.push(seg(a.preparedAt, a.activatedAt ?? a.oldAt ?? end, 'prepared', `root ${a.serial} prepared: in the bundle, not signing yet`));
  if (a.activatedAt !== undefined) segments.push(seg(a.activatedAt, a.oldAt ?? end, 'active', `root ${a.serial} active: signing`));
  if (a.oldAt !== undefined) segments.push(seg(a.oldAt, end, 'old', `root ${a.serial} old: trusted until the last SVID it signed expires, no longer signing`));
  if (a.preparedAt === undefined && a.activatedAt === undefined && a.oldAt === undefined) {
    // Only the snapshot's word: drawn in its current phase from its notBefore.
    const kind: SegmentKind = a.status === 'retired' ? 'retired' : a.status;
    segments.push(seg(Date.parse(a.notBefore), end, kind, `root ${a.serial} ${a.status}`));
  }
  return { id: `ca:${a.serial}`, label: `CA ${a.serial.slice(0, 8)} ${a.status}`, kind: 'ca', segments: segments.filter((s): s is Segment => s !== undefined), ticks: [] };
}

function serviceLane(n: NodeView, now: number, seg: Seg, x: (t: number) => number): Lane {
  const segments: (Segment | undefined)[] = [];
  const ticks: number[] = [];
  for (const b of n.bars) {
    segments.push(seg(b.notBefore, b.notAfter, 'valid', `SVID ${b.serial} valid until ${new Date(b.notAfter).toISOString()}`));
    const endOfUse = b.replacedAt ?? Math.min(now, b.notAfter);
    segments.push(seg(b.issuedAt, endOfUse, 'in-use', `SVID ${b.serial} in use`));
    if (b.cause === 'rotation' || b.cause === 'manual' || b.cause === 'ca-rotation') {
      const tx = x(b.issuedAt);
      if (tx > 0 && tx < 1) ticks.push(tx);
    }
  }
  return { id: n.id, label: n.name, kind: 'service', segments: segments.filter((s): s is Segment => s !== undefined), ticks };
}
