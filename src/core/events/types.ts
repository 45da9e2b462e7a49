// The typed vocabulary of everything that happens in a mesh. Types only: the page and the
// protocol import these, so this file must not import Node.

/** Why a connection or call was refused. The contract in DESIGN.md; the UI switches on these. */
export type RejectReason =
  | 'no-client-cert'
  | 'unknown-ca'
  | 'expired'
  | 'not-yet-valid'
  | 'not-an-svid'
  | 'wrong-trust-domain'
  | 'denied-by-policy'
  | 'plaintext-on-mtls-port'
  | 'revoked'
  | 'unexpected-id'
  | 'upstream-unavailable';

export const REJECT_REASONS: readonly RejectReason[] = [
  'no-client-cert',
  'unknown-ca',
  'expired',
  'not-yet-valid',
  'not-an-svid',
  'wrong-trust-domain',
  'denied-by-policy',
  'plaintext-on-mtls-port',
  'revoked',
  'unexpected-id',
  'upstream-unavailable',
];

/** A peer as the mesh saw it: its verified SPIFFE ID when it had one, else where it came from. */
export interface Peer {
  readonly service?: string;
  readonly spiffeId?: string;
  readonly address?: string;
}

interface Base {
  /** Monotonic per daemon run. */
  readonly seq: number;
  /** ISO 8601. */
  readonly time: string;
}

export interface SvidIssuedEvent extends Base {
  readonly type: 'svid/issued';
  readonly service: string;
  readonly spiffeId: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** The serial it replaced, when this was a rotation. */
  readonly previousSerial?: string;
  readonly cause: 'start' | 'rotation' | 'manual' | 'ca-rotation';
}

export interface SvidFailedEvent extends Base {
  readonly type: 'svid/failed';
  readonly service: string;
  readonly spiffeId: string;
  readonly error: string;
  /** When the next attempt runs; the previous files stay in place meanwhile. */
  readonly retryInMs: number;
}

export interface CaEvent extends Base {
  readonly type: 'ca/changed';
  readonly phase: 'prepared' | 'activated' | 'retired' | 'created';
  readonly serial: string;
  readonly notAfter: string;
  /** Serials of every root in the bundle after this change. */
  readonly bundle: readonly string[];
}

export interface HandshakeEvent extends Base {
  readonly type: 'handshake';
  readonly caller: Peer;
  readonly callee: Peer;
  readonly resumed: boolean;
  readonly protocol: string;
}

export interface CallEvent extends Base {
  readonly type: 'call';
  readonly caller: Peer;
  readonly callee: Peer;
  /** HTTP requests seen on the connection since the last event for it. */
  readonly requests: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly plaintext?: boolean;
}

export interface RejectionEvent extends Base {
  readonly type: 'rejection';
  /** Which side of the call reports: the callee's sidecar ('server') or the caller's ('client'). */
  readonly side: 'server' | 'client';
  readonly reason: RejectReason;
  readonly detail: string;
  readonly caller: Peer;
  readonly callee: Peer;
  /** The policy rule that decided, for denied-by-policy. */
  readonly rule?: string;
}

export interface PolicyEvent extends Base {
  readonly type: 'policy/decision';
  readonly caller: Peer;
  readonly callee: Peer;
  readonly allowed: boolean;
  readonly rule: string;
  readonly explanation: string;
}

export interface PolicyChangedEvent extends Base {
  readonly type: 'policy/changed';
  readonly rule: string;
  readonly change: 'added' | 'removed';
}

export interface ServiceEvent extends Base {
  readonly type: 'service/state';
  readonly service: string;
  readonly state: 'starting' | 'running' | 'exited' | 'restarting' | 'stopped' | 'failed';
  readonly pid?: number;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  readonly detail?: string;
}

export interface AttackEvent extends Base {
  readonly type: 'attack';
  readonly scenario: string;
  readonly target: string;
  readonly rejected: boolean;
  readonly reason?: RejectReason;
  readonly detail: string;
}

export interface MeshStateEvent extends Base {
  readonly type: 'mesh/state';
  readonly state: 'starting' | 'ready' | 'stopping' | 'stopped';
  readonly detail?: string;
}

export type MeshEvent =
  | SvidIssuedEvent
  | SvidFailedEvent
  | CaEvent
  | HandshakeEvent
  | CallEvent
  | RejectionEvent
  | PolicyEvent
  | PolicyChangedEvent
  | ServiceEvent
  | AttackEvent
  | MeshStateEvent;

export type MeshEventType = MeshEvent['type'];

/** An event before the bus stamps it. */
export type MeshEventInput = MeshEvent extends infer E ? (E extends MeshEvent ? Omit<E, 'seq' | 'time'> : never) : never;
