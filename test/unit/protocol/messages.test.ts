import { describe, expect, it } from 'vitest';
import type { MeshEvent } from '../../../src/core/events/types.js';
import { ATTACK_SCENARIOS, checkMeshCommand, isClientMessage, isMeshCommand, isServerMessage } from '../../../src/protocol/messages.js';
import type { MeshSnapshot } from '../../../src/protocol/snapshot.js';

const call: MeshEvent = {
  type: 'call',
  seq: 7,
  time: '2030-01-01T00:00:00.000Z',
  caller: { service: 'orders', spiffeId: 'spiffe://lab.local/ns/default/sa/orders' },
  callee: { service: 'billing' },
  requests: 1,
  bytesIn: 10,
  bytesOut: 20,
};

const rejection: MeshEvent = {
  type: 'rejection',
  seq: 8,
  time: '2030-01-01T00:00:01.000Z',
  side: 'server',
  reason: 'unknown-ca',
  detail: 'the client certificate does not chain to the lab.local bundle',
  caller: { address: '127.0.0.1:5555' },
  callee: { service: 'billing' },
};

const snapshot: MeshSnapshot = {
  trustDomain: 'lab.local',
  mode: 'strict',
  ttlMs: 3_600_000,
  startedAt: '2030-01-01T00:00:00.000Z',
  ca: { keyType: 'ec-p256', intermediate: false, bundleSequence: 1, authorities: [] },
  services: [
    {
      name: 'orders',
      spiffeId: 'spiffe://lab.local/ns/default/sa/orders',
      mode: 'sidecar',
      entry: true,
      state: 'running',
      serial: '01',
      notBefore: '2030-01-01T00:00:00.000Z',
      notAfter: '2030-01-01T01:00:00.000Z',
      rotations: 0,
      upstreams: [],
      files: { cert: '/s/svid.pem', key: '/s/svid_key.pem', bundle: '/s/svid_bundle.pem' },
    },
  ],
  policy: { mode: 'strict', rules: [] },
  recentEvents: [call],
};

interface Row {
  readonly name: string;
  readonly value: unknown;
  readonly valid: boolean;
}

const serverRows: readonly Row[] = [
  { name: 'snapshot', value: { type: 'mesh/snapshot', snapshot }, valid: true },
  { name: 'one event', value: { type: 'mesh/event', event: call }, valid: true },
  { name: 'a batch of events', value: { type: 'mesh/events', events: [call, rejection] }, valid: true },
  { name: 'an empty batch', value: { type: 'mesh/events', events: [] }, valid: true },
  { name: 'reply ok with a result', value: { type: 'reply', id: 1, ok: true, result: { rotated: ['orders'] } }, valid: true },
  { name: 'reply failed with code and sentence', value: { type: 'reply', id: 2, ok: false, error: 'mesh: no such service.', code: 'unknown-service' }, valid: true },
  { name: 'null', value: null, valid: false },
  { name: 'a string', value: 'mesh/snapshot', valid: false },
  { name: 'an array', value: [{ type: 'mesh/event', event: call }], valid: false },
  { name: 'unknown type', value: { type: 'mesh/didChange', snapshot }, valid: false },
  { name: 'a client message', value: { type: 'ready' }, valid: false },
  { name: 'snapshot without services', value: { type: 'mesh/snapshot', snapshot: { ...snapshot, services: undefined } }, valid: false },
  { name: 'snapshot with a nameless service', value: { type: 'mesh/snapshot', snapshot: { ...snapshot, services: [{ spiffeId: 'x', notAfter: 'y' }] } }, valid: false },
  { name: 'snapshot with a bad recent event', value: { type: 'mesh/snapshot', snapshot: { ...snapshot, recentEvents: [{ type: 'call' }] } }, valid: false },
  { name: 'event of an unknown type', value: { type: 'mesh/event', event: { ...call, type: 'gossip' } }, valid: false },
  { name: 'event with a prototype key as type', value: { type: 'mesh/event', event: { ...call, type: 'toString' } }, valid: false },
  { name: 'event without seq', value: { type: 'mesh/event', event: { ...call, seq: undefined } }, valid: false },
  { name: 'event with a fractional seq', value: { type: 'mesh/event', event: { ...call, seq: 1.5 } }, valid: false },
  { name: 'event without time', value: { type: 'mesh/event', event: { ...call, time: 5 } }, valid: false },
  { name: 'rejection without a reason', value: { type: 'mesh/event', event: { ...rejection, reason: undefined } }, valid: false },
  { name: 'call without a caller', value: { type: 'mesh/event', event: { ...call, caller: 'orders' } }, valid: false },
  { name: 'batch that is not an array', value: { type: 'mesh/events', events: call }, valid: false },
  { name: 'batch with one bad event', value: { type: 'mesh/events', events: [call, null] }, valid: false },
  { name: 'reply without ok', value: { type: 'reply', id: 1 }, valid: false },
  { name: 'reply with a string id', value: { type: 'reply', id: '1', ok: true }, valid: false },
  { name: 'reply with a non-string error', value: { type: 'reply', id: 1, ok: false, error: { message: 'x' } }, valid: false },
];

const clientRows: readonly Row[] = [
  { name: 'ready', value: { type: 'ready' }, valid: true },
  { name: 'rotate all', value: { type: 'command', id: 1, command: { name: 'rotate' } }, valid: true },
  { name: 'rotate one', value: { type: 'command', id: 2, command: { name: 'rotate', service: 'orders' } }, valid: true },
  { name: 'rotate the CA', value: { type: 'command', id: 3, command: { name: 'ca/rotate' } }, valid: true },
  { name: 'attack', value: { type: 'command', id: 4, command: { name: 'attack', scenario: 'rogue-ca', target: 'billing' } }, valid: true },
  { name: 'allow', value: { type: 'command', id: 5, command: { name: 'policy/allow', from: 'orders', to: 'billing' } }, valid: true },
  { name: 'remove', value: { type: 'command', id: 6, command: { name: 'policy/remove', rule: 'orders-to-billing' } }, valid: true },
  { name: 'undefined', value: undefined, valid: false },
  { name: 'a server message', value: { type: 'mesh/event', event: call }, valid: false },
  { name: 'command without id', value: { type: 'command', command: { name: 'rotate' } }, valid: false },
  { name: 'command with a fractional id', value: { type: 'command', id: 1.5, command: { name: 'rotate' } }, valid: false },
  { name: 'command without a command', value: { type: 'command', id: 1 }, valid: false },
  { name: 'unknown command', value: { type: 'command', id: 1, command: { name: 'shutdown' } }, valid: false },
  { name: 'command name from the prototype', value: { type: 'command', id: 1, command: { name: 'constructor' } }, valid: false },
  { name: 'unknown scenario', value: { type: 'command', id: 1, command: { name: 'attack', scenario: 'ddos' } }, valid: false },
  { name: 'attack without a scenario', value: { type: 'command', id: 1, command: { name: 'attack' } }, valid: false },
  { name: 'allow without "to"', value: { type: 'command', id: 1, command: { name: 'policy/allow', from: 'orders' } }, valid: false },
  { name: 'empty service name', value: { type: 'command', id: 1, command: { name: 'rotate', service: '' } }, valid: false },
  { name: 'service that is a number', value: { type: 'command', id: 1, command: { name: 'rotate', service: 3 } }, valid: false },
  { name: 'a field the command does not take', value: { type: 'command', id: 1, command: { name: 'ca/rotate', service: 'orders' } }, valid: false },
  { name: 'a prototype key as a field', value: { type: 'command', id: 1, command: JSON.parse('{"name":"rotate","__proto__":{"service":"x"}}') as unknown }, valid: false },
];

describe('isServerMessage', () => {
  it.each(serverRows)('$name → $valid', (row) => {
    expect(isServerMessage(row.value)).toBe(row.valid);
  });
  it('accepts what survives a JSON round trip', () => {
    for (const row of serverRows.filter((r) => r.valid)) expect(isServerMessage(JSON.parse(JSON.stringify(row.value))), row.name).toBe(true);
  });
});

describe('isClientMessage', () => {
  it.each(clientRows)('$name → $valid', (row) => {
    expect(isClientMessage(row.value)).toBe(row.valid);
  });
});

describe('checkMeshCommand', () => {
  interface ProblemRow {
    readonly name: string;
    readonly value: unknown;
    readonly problem: RegExp;
  }
  const problems: readonly ProblemRow[] = [
    { name: 'not an object', value: 'rotate', problem: /^a command must be a JSON object$/ },
    { name: 'unknown name', value: { name: 'shutdown' }, problem: /^"name" must be one of rotate, ca\/rotate, attack, policy\/allow, policy\/remove$/ },
    { name: 'unknown scenario', value: { name: 'attack', scenario: 'ddos' }, problem: new RegExp(`^"scenario" must be one of ${ATTACK_SCENARIOS.join(', ')}$`) },
    { name: 'missing field', value: { name: 'policy/remove' }, problem: /^command policy\/remove needs "rule"$/ },
    { name: 'extra field', value: { name: 'rotate', servce: 'orders' }, problem: /^command rotate does not take "servce"; it takes only "service"$/ },
    { name: 'field on a command without fields', value: { name: 'ca/rotate', force: true }, problem: /^command ca\/rotate does not take "force"; it takes no fields$/ },
  ];
  it.each(problems)('names the problem: $name', (row) => {
    const check = checkMeshCommand(row.value);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.problem).toMatch(row.problem);
  });

  it('returns a fresh command that holds only known fields', () => {
    const input = { name: 'attack', scenario: 'plaintext', target: undefined };
    const check = checkMeshCommand(input);
    expect(check).toEqual({ ok: true, command: { name: 'attack', scenario: 'plaintext' } });
    if (check.ok) expect(check.command).not.toBe(input);
    expect(isMeshCommand({ name: 'attack', scenario: 'plaintext' })).toBe(true);
  });
});
