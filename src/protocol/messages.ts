// The one typed protocol spoken between the daemon, the VS Code extension and the page. The same
// messages travel over the daemon's WebSocket and over the webview's postMessage relay, so both
// ends import this file and a message cannot drift. No Node imports: this runs in a browser too.
import type { MeshEvent, MeshEventType } from '../core/events/types.js';
import type { MeshSnapshot } from './snapshot.js';

/** The attacks the lab can stage against its own mesh (DESIGN.md, `mtls-lab attack`). */
export type AttackScenario = 'impostor-no-cert' | 'rogue-ca' | 'expired-replay' | 'unauthorized' | 'plaintext';

export const ATTACK_SCENARIOS: readonly AttackScenario[] = [
  'impostor-no-cert',
  'rogue-ca',
  'expired-replay',
  'unauthorized',
  'plaintext',
];

/** What a client may ask the mesh to do. The daemon's POST routes map one to one onto these. */
export type MeshCommand =
  | { readonly name: 'rotate'; readonly service?: string }
  | { readonly name: 'ca/rotate' }
  | { readonly name: 'attack'; readonly scenario: AttackScenario; readonly target?: string }
  | { readonly name: 'policy/allow'; readonly from: string; readonly to: string }
  | { readonly name: 'policy/remove'; readonly rule: string };

export type MeshCommandName = MeshCommand['name'];

// ── server → client ────────────────────────────────────────────────────────────────────────

/** The whole state: sent first on every connection, after `ready`, and after a client fell behind. */
export interface SnapshotNotification {
  readonly type: 'mesh/snapshot';
  readonly snapshot: MeshSnapshot;
}

/** One event, when it came alone. */
export interface EventNotification {
  readonly type: 'mesh/event';
  readonly event: MeshEvent;
}

/** Events in the order they happened; under load the daemon batches them (at most every ~50 ms). */
export interface EventsNotification {
  readonly type: 'mesh/events';
  readonly events: readonly MeshEvent[];
}

/** The answer to a `command` with the same `id`. */
export interface CommandReply {
  readonly type: 'reply';
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  /** A sentence for people, when `ok` is false. */
  readonly error?: string;
  /** The error's typed code, when `ok` is false and the error had one: switch on this, not on `error`. */
  readonly code?: string;
}

export type ServerMessage = SnapshotNotification | EventNotification | EventsNotification | CommandReply;

// ── client → server ────────────────────────────────────────────────────────────────────────

/** The client is listening: the server answers with a fresh snapshot. */
export interface ReadyMessage {
  readonly type: 'ready';
}

/** A request; the server answers with a `reply` carrying the same `id`. */
export interface CommandMessage {
  readonly type: 'command';
  readonly id: number;
  readonly command: MeshCommand;
}

export type ClientMessage = ReadyMessage | CommandMessage;

// ── validation of untrusted input ─────────────────────────────────────────────────────────

type Json = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

export function isAttackScenario(value: unknown): value is AttackScenario {
  return typeof value === 'string' && (ATTACK_SCENARIOS as readonly string[]).includes(value);
}

/** Each command's fields: required or optional. Anything else is refused, so a typo cannot widen a command. */
const COMMAND_FIELDS: Readonly<Record<MeshCommandName, Readonly<Record<string, 'required' | 'optional'>>>> = {
  rotate: { service: 'optional' },
  'ca/rotate': {},
  attack: { scenario: 'required', target: 'optional' },
  'policy/allow': { from: 'required', to: 'required' },
  'policy/remove': { rule: 'required' },
};

export const MESH_COMMAND_NAMES: readonly MeshCommandName[] = Object.keys(COMMAND_FIELDS) as MeshCommandName[];

function isCommandName(value: unknown): value is MeshCommandName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(COMMAND_FIELDS, value);
}

export type CommandCheck =
  | { readonly ok: true; readonly command: MeshCommand }
  | { readonly ok: false; readonly problem: string };

/**
 * Checks untrusted input against MeshCommand. On success returns a fresh command holding only
 * the known fields; on failure a sentence (without module prefix or final period) naming the
 * problem, e.g. `"scenario" must be one of impostor-no-cert, rogue-ca, …`.
 */
export function checkMeshCommand(value: unknown): CommandCheck {
  if (!isObject(value)) return { ok: false, problem: 'a command must be a JSON object' };
  const name = value['name'];
  if (!isCommandName(name)) {
    return { ok: false, problem: `"name" must be one of ${MESH_COMMAND_NAMES.join(', ')}` };
  }
  const fields = COMMAND_FIELDS[name];
  const out: Record<string, unknown> = { name };
  for (const key of Object.keys(value)) {
    if (key === 'name') continue;
    if (!Object.prototype.hasOwnProperty.call(fields, key)) {
      const known = Object.keys(fields);
      const takes = known.length === 0 ? 'takes no fields' : `takes only ${known.map((k) => `"${k}"`).join(', ')}`;
      return { ok: false, problem: `command ${name} does not take "${key}"; it ${takes}` };
    }
  }
  for (const [key, presence] of Object.entries(fields)) {
    const v = value[key];
    if (v === undefined) {
      if (presence === 'required') return { ok: false, problem: `command ${name} needs "${key}"` };
      continue;
    }
    if (key === 'scenario') {
      if (!isAttackScenario(v)) return { ok: false, problem: `"scenario" must be one of ${ATTACK_SCENARIOS.join(', ')}` };
    } else if (!isNonEmptyString(v)) {
      return { ok: false, problem: `"${key}" of command ${name} must be a non-empty string` };
    }
    out[key] = v;
  }
  return { ok: true, command: out as unknown as MeshCommand };
}

export function isMeshCommand(value: unknown): value is MeshCommand {
  return checkMeshCommand(value).ok;
}

// Every event type with the string fields it must carry. A Record over MeshEventType: adding a
// type to the union without listing it here fails to compile.
const EVENT_STRING_FIELDS: Readonly<Record<MeshEventType, readonly string[]>> = {
  'svid/issued': ['service', 'spiffeId', 'serial', 'notBefore', 'notAfter', 'cause'],
  'svid/failed': ['service', 'spiffeId', 'error'],
  'ca/changed': ['phase', 'serial', 'notAfter'],
  handshake: ['protocol'],
  call: [],
  rejection: ['side', 'reason', 'detail'],
  'policy/decision': ['rule', 'explanation'],
  'policy/changed': ['rule', 'change'],
  'service/state': ['service', 'state'],
  attack: ['scenario', 'target', 'detail'],
  'mesh/state': ['state'],
};

const EVENTS_WITH_PEERS: ReadonlySet<MeshEventType> = new Set<MeshEventType>(['handshake', 'call', 'rejection', 'policy/decision']);

/** A well-formed MeshEvent: a known type, a sequence number, a time, and that type's key fields. */
export function isMeshEvent(value: unknown): value is MeshEvent {
  if (!isObject(value)) return false;
  const type = value['type'];
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(EVENT_STRING_FIELDS, type)) return false;
  const seq = value['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || !isString(value['time'])) return false;
  const t = type as MeshEventType;
  if (!EVENT_STRING_FIELDS[t].every((f) => isString(value[f]))) return false;
  if (EVENTS_WITH_PEERS.has(t) && !(isObject(value['caller']) && isObject(value['callee']))) return false;
  return true;
}

/** A MeshSnapshot in its outline: the fields the page reads before anything else, and every recent event. */
export function isMeshSnapshot(value: unknown): value is MeshSnapshot {
  if (!isObject(value)) return false;
  if (!isString(value['trustDomain']) || !isString(value['mode']) || !isString(value['startedAt'])) return false;
  if (typeof value['ttlMs'] !== 'number') return false;
  const ca = value['ca'];
  if (!isObject(ca) || !Array.isArray(ca['authorities'])) return false;
  const policy = value['policy'];
  if (!isObject(policy) || !Array.isArray(policy['rules'])) return false;
  const services = value['services'];
  if (!Array.isArray(services)) return false;
  for (const s of services) {
    if (!isObject(s) || !isString(s['name']) || !isString(s['spiffeId']) || !isString(s['notAfter'])) return false;
  }
  const recent = value['recentEvents'];
  return Array.isArray(recent) && recent.every(isMeshEvent);
}

/** Guards a message from the daemon (or the extension relaying it) before the page trusts it. */
export function isServerMessage(value: unknown): value is ServerMessage {
  if (!isObject(value)) return false;
  switch (value['type']) {
    case 'mesh/snapshot':
      return isMeshSnapshot(value['snapshot']);
    case 'mesh/event':
      return isMeshEvent(value['event']);
    case 'mesh/events': {
      const events = value['events'];
      return Array.isArray(events) && events.every(isMeshEvent);
    }
    case 'reply': {
      const id = value['id'];
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || typeof value['ok'] !== 'boolean') return false;
      if (value['error'] !== undefined && !isString(value['error'])) return false;
      return value['code'] === undefined || isString(value['code']);
    }
    default:
      return false;
  }
}

/** Guards a message from a page or an extension before the daemon acts on it. */
export function isClientMessage(value: unknown): value is ClientMessage {
  if (!isObject(value)) return false;
  switch (value['type']) {
    case 'ready':
      return true;
    case 'command': {
      const id = value['id'];
      return typeof id === 'number' && Number.isSafeInteger(id) && isMeshCommand(value['command']);
    }
    default:
      return false;
  }
}

/**
 * A browser cannot set headers on a WebSocket, so the dashboard page offers its token as this
 * subprotocol (`mtls-lab.bearer.TOKEN`); the daemon echoes it when the token is right.
 */
export const BEARER_PROTOCOL_PREFIX = 'mtls-lab.bearer.';
