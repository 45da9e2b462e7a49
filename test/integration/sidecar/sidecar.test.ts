// The sidecar against real TLS peers on 127.0.0.1: attacks on billing's mesh port, each with the
// reason billing's sidecar gives, the reason the caller's side gives when the caller is a sidecar,
// and the proof that billing's plain service never saw a byte; then the allowed path, the policy's
// 403, the caller's own checks on the upstream, and permissive mode.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/core/events/bus.js';
import type { CallEvent, HandshakeEvent, MeshEvent, PolicyEvent, RejectReason } from '../../../src/core/events/types.js';
import { RejectionLedger, Sidecar, type SidecarOptions } from '../../../src/core/mesh/sidecar.js';
import { measureSidecarHop } from '../../../src/core/mesh/sidecarHop.js';
import { toPem } from '../../../src/core/pki/pem.js';
import { ext, newTestCa, withExtension, type TestSvid } from '../../support/testCa.js';
import {
  Backend,
  EventLog,
  TestBundleSource,
  TestSvidSource,
  allowOnly,
  closedPort,
  material,
  plainGet,
  rejectionOn,
  tlsGet,
  type Reply,
} from './support.js';

const BILLING = 'spiffe://lab.local/ns/default/sa/billing';
const ORDERS = 'spiffe://lab.local/ns/default/sa/orders';
const INTRUDER = 'spiffe://lab.local/ns/default/sa/intruder';
const PAYMENTS = 'spiffe://lab.local/ns/default/sa/payments';
const HOUR_MS = 3_600_000;

const ca = newTestCa('lab.local').childCa();
const bundlePem = toPem('CERTIFICATE', ca.root.cert);
const billingSvid = ca.issue(BILLING);
const ordersSvid = ca.issue(ORDERS);
const NAMES: Readonly<Record<string, string>> = { [BILLING]: 'billing', [ORDERS]: 'orders', [INTRUDER]: 'intruder', [PAYMENTS]: 'payments' };
const names = (id: string): string | undefined => NAMES[id];

function labBundles(): TestBundleSource {
  return new TestBundleSource(new Map([['lab.local', bundlePem]]));
}

const isHandshake = (e: MeshEvent): e is HandshakeEvent => e.type === 'handshake';
const isCall = (e: MeshEvent): e is CallEvent => e.type === 'call';

describe('sidecar', () => {
  let bus: EventBus;
  let log: EventLog;
  let ledger: RejectionLedger;
  let backend: Backend;
  let billing: Sidecar;
  let meshPort: number;
  /** Sidecars a test starts itself; stopped after each test. */
  const started: Sidecar[] = [];

  /** A caller's sidecar ("orders" unless the SVID says otherwise) with one upstream, started. Returns its local port for the upstream. */
  async function callerSidecar(svid: TestSvid, o: { trustDomain?: string; expect?: string; port?: number } = {}): Promise<number> {
    const sidecar = new Sidecar({
      service: names(svid.id) ?? 'caller',
      spiffeId: svid.id,
      trustDomain: o.trustDomain ?? 'lab.local',
      svid: new TestSvidSource(material(svid)),
      bundles: labBundles(),
      upstreams: [{ name: 'billing', spiffeId: o.expect ?? BILLING, port: o.port ?? meshPort }],
      authorize: allowOnly({}),
      mode: 'strict',
      bus,
      ledger,
      names,
    });
    started.push(sidecar);
    const ports = await sidecar.start();
    return ports.upstreamPorts.billing as number;
  }

  function billingOptions(extra: Partial<SidecarOptions> = {}): SidecarOptions {
    return {
      service: 'billing',
      spiffeId: BILLING,
      trustDomain: 'lab.local',
      svid: new TestSvidSource(material(billingSvid)),
      bundles: labBundles(),
      servicePort: backend.port,
      upstreams: [],
      authorize: allowOnly({ [ORDERS]: 'orders-to-billing' }),
      mode: 'strict',
      bus,
      ledger,
      names,
      ...extra,
    };
  }

  beforeAll(async () => {
    bus = new EventBus();
    log = new EventLog(bus);
    ledger = new RejectionLedger();
    backend = await Backend.start('billing');
    billing = new Sidecar(billingOptions());
    meshPort = (await billing.start()).meshPort as number;
  });

  afterAll(async () => {
    await billing?.stop();
    await backend?.close();
    log?.dispose();
  });

  beforeEach(() => {
    log.clear();
    backend.reset();
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
  });

  describe('refuses attackers on the mesh port before a byte reaches the service', () => {
    interface AttackCase {
      readonly name: string;
      /** A caller's sidecar holding this SVID, or a bare client with no certificate, or plaintext. */
      readonly caller: (() => TestSvid) | 'no-certificate' | 'plaintext';
      readonly trustDomain?: string;
      readonly reason: RejectReason;
      /** In the server-side detail. */
      readonly detail: RegExp;
    }

    const rogue = newTestCa('lab.local').childCa();
    const other = newTestCa('other.org').childCa();
    const now = Date.now();
    const CASES: readonly AttackCase[] = [
      { name: 'no client certificate', caller: 'no-certificate', reason: 'no-client-cert', detail: /sent no client certificate/ },
      { name: 'an SVID from a rogue CA with the same names', caller: () => rogue.issue(ORDERS), reason: 'unknown-ca', detail: /not signed by any CA in the lab\.local bundle/ },
      { name: 'an expired SVID', caller: () => ca.issue(ORDERS, { notBefore: new Date(now - 2 * HOUR_MS), notAfter: new Date(now - HOUR_MS) }), reason: 'expired', detail: /expired/ },
      { name: 'an SVID that is not valid yet', caller: () => ca.issue(ORDERS, { notBefore: new Date(now + HOUR_MS), notAfter: new Date(now + 2 * HOUR_MS) }), reason: 'not-yet-valid', detail: /not valid until/ },
      { name: 'a leaf with two URI SANs', caller: () => ca.issue(ORDERS, { uris: [ORDERS, INTRUDER] }), reason: 'not-an-svid', detail: /2 URI SANs/ },
      { name: 'a leaf that is a CA (CA:TRUE)', caller: () => ca.issue(ORDERS, { mutate: (e) => withExtension(e, ext.basicConstraints(true)) }), reason: 'not-an-svid', detail: /CA:TRUE/ },
      {
        name: 'an SVID of another trust domain',
        caller: () => other.issue('spiffe://other.org/ns/default/sa/orders'),
        trustDomain: 'other.org',
        reason: 'wrong-trust-domain',
        detail: /trust domain "other\.org"/,
      },
      { name: 'plaintext HTTP in strict mode', caller: 'plaintext', reason: 'plaintext-on-mtls-port', detail: /speaks mutual TLS only/ },
    ];

    it.each(CASES)('$name → $reason', async (c) => {
      let reply: Reply;
      if (c.caller === 'no-certificate') reply = await tlsGet(meshPort, { ca: bundlePem });
      else if (c.caller === 'plaintext') reply = await plainGet(meshPort);
      else reply = await plainGet(await callerSidecar(c.caller(), c.trustDomain === undefined ? {} : { trustDomain: c.trustDomain }));

      const server = await log.waitFor(rejectionOn('server'), 'server-side rejection');
      expect(server.reason).toBe(c.reason);
      expect(server.detail).toMatch(c.detail);
      expect(server.callee).toEqual({ service: 'billing', spiffeId: BILLING });

      if (typeof c.caller === 'function') {
        // The caller's sidecar learns the reason through the ledger and tells its local caller.
        const client = await log.waitFor(rejectionOn('client'), 'client-side rejection');
        expect(client.reason).toBe(c.reason);
        expect(client.callee.spiffeId).toBe(BILLING);
        expect(reply.status).toBe(502);
        expect(reply.json).toMatchObject({ reason: c.reason, upstream: 'billing', callee: BILLING });
      } else if (c.caller === 'plaintext') {
        expect(reply.status).toBe(400);
        expect(reply.json).toMatchObject({ error: 'plaintext-on-mtls-port', callee: BILLING });
        expect(String(reply.json?.fix)).toMatch(/curl --cert svid\.pem --key svid_key\.pem --cacert/);
      } else {
        expect(reply.status).toBe(0);
      }
      expect(backend.connections).toBe(0);
      expect(backend.bytes).toBe(0);
      expect(log.events.some((e) => e.type === 'handshake' || e.type === 'call')).toBe(false);
    });
  });

  it('answers an authenticated caller without a rule with a 403 naming caller, callee, rule and reason, and both sides report it', async () => {
    const reply = await plainGet(await callerSidecar(ca.issue(INTRUDER)));
    expect(reply.status).toBe(403);
    expect(reply.json).toMatchObject({ error: 'denied-by-policy', caller: INTRUDER, callee: BILLING, rule: 'default-deny', reason: 'denied-by-policy' });
    const server = await log.waitFor(rejectionOn('server'), 'server-side rejection');
    const client = await log.waitFor(rejectionOn('client'), 'client-side rejection');
    for (const e of [server, client]) {
      expect(e).toMatchObject({ reason: 'denied-by-policy', rule: 'default-deny' });
      expect(e.caller).toMatchObject({ service: 'intruder', spiffeId: INTRUDER });
      expect(e.callee).toMatchObject({ service: 'billing', spiffeId: BILLING });
    }
    const decision = log.events.find((e): e is PolicyEvent => e.type === 'policy/decision');
    expect(decision).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(backend.bytes).toBe(0);
  });

  interface ClientSideCase {
    readonly name: string;
    readonly expect: string;
    /** Where the upstream points: billing's mesh port, or a port nothing listens on. */
    readonly target: 'billing' | 'closed';
    readonly reason: RejectReason;
    readonly detail: RegExp;
  }

  const CLIENT_SIDE: readonly ClientSideCase[] = [
    { name: 'the upstream presents an ID other than the expected one', expect: PAYMENTS, target: 'billing', reason: 'unexpected-id', detail: /presented spiffe:\/\/lab\.local\/ns\/default\/sa\/billing, not the expected .*payments/ },
    { name: 'nothing listens on the upstream mesh port', expect: BILLING, target: 'closed', reason: 'upstream-unavailable', detail: /nothing listens on 127\.0\.0\.1:\d+/ },
  ];

  it.each(CLIENT_SIDE)('the caller refuses when $name: $reason and a 502 naming it', async (c) => {
    const port = c.target === 'billing' ? meshPort : await closedPort();
    const reply = await plainGet(await callerSidecar(ordersSvid, { expect: c.expect, port }));
    expect(reply.status).toBe(502);
    expect(reply.json).toMatchObject({ error: c.reason, reason: c.reason, caller: ORDERS, callee: c.expect, upstream: 'billing' });
    const client = await log.waitFor(rejectionOn('client'), 'client-side rejection');
    expect(client.reason).toBe(c.reason);
    expect(client.detail).toMatch(c.detail);
    expect(client.caller).toEqual({ service: 'orders', spiffeId: ORDERS });
    expect(backend.bytes).toBe(0);
  });

  it('passes an allowed caller through to the service, and the second connection resumes the TLS session', async () => {
    const port = await callerSidecar(ordersSvid);
    const first = await plainGet(port, '/first');
    const second = await plainGet(port, '/second');
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.body).toBe('ok billing 1\n');
    expect(second.body).toBe('ok billing 2\n');
    expect(backend.requests).toBe(2);

    const handshakes = log.events.filter(isHandshake);
    expect(handshakes.map((h) => h.resumed)).toEqual([false, true]);
    expect(handshakes[0]).toMatchObject({ caller: { service: 'orders', spiffeId: ORDERS }, callee: { service: 'billing', spiffeId: BILLING }, protocol: 'TLSv1.3' });
    const caller = started[0] as Sidecar;
    expect(caller.stats.outbound).toMatchObject({ established: 2, resumed: 1, failed: 0 });

    // One call event per connection, emitted at its close, counting the request and its bytes.
    const calls = await new Promise<CallEvent[]>((resolve, reject) => {
      const deadline = Date.now() + 3_000;
      const poll = (): void => {
        const found = log.events.filter(isCall);
        if (found.length >= 2) resolve(found);
        else if (Date.now() > deadline) reject(new Error(`test: saw ${found.length} call events, expected 2.`));
        else setTimeout(poll, 10);
      };
      poll();
    });
    for (const call of calls) {
      expect(call).toMatchObject({ requests: 1, caller: { spiffeId: ORDERS }, callee: { spiffeId: BILLING } });
      expect(call.bytesIn).toBeGreaterThan(0);
      expect(call.bytesOut).toBeGreaterThan(0);
      expect(call.plaintext).toBeUndefined();
    }
    expect(log.rejections('server')).toEqual([]);
    expect(log.rejections('client')).toEqual([]);
  });

  interface PermissiveCase {
    readonly name: string;
    /** The rule that admits callers without identity, or none. */
    readonly plaintextRule?: string;
    readonly status: number;
    readonly backendRequests: number;
  }

  const PERMISSIVE: readonly PermissiveCase[] = [
    { name: 'lets plaintext through when the policy allows a caller without identity', plaintextRule: 'permissive-plaintext', status: 200, backendRequests: 1 },
    { name: 'answers plaintext with a 403 when the policy does not', status: 403, backendRequests: 0 },
  ];

  it.each(PERMISSIVE)('in permissive mode $name', async (c) => {
    const permissive = new Sidecar(billingOptions({ mode: 'permissive', authorize: allowOnly({ [ORDERS]: 'orders-to-billing' }, c.plaintextRule) }));
    started.push(permissive);
    const port = (await permissive.start()).meshPort as number;
    const reply = await plainGet(port);
    expect(reply.status).toBe(c.status);
    expect(backend.requests).toBe(c.backendRequests);
    const decision = log.events.find((e): e is PolicyEvent => e.type === 'policy/decision');
    expect(decision).toMatchObject({ allowed: c.plaintextRule !== undefined, rule: c.plaintextRule ?? 'default-deny' });
    expect(decision?.caller.spiffeId).toBeUndefined();
    if (c.plaintextRule !== undefined) {
      expect(reply.body).toBe('ok billing 1\n');
      const call = await log.waitFor(isCall, 'call');
      expect(call).toMatchObject({ plaintext: true, requests: 1 });
      expect(log.rejections('server')).toEqual([]);
    } else {
      expect(reply.json).toMatchObject({ error: 'denied-by-policy', caller: null, callee: BILLING, rule: 'default-deny', reason: 'denied-by-policy' });
      expect(backend.bytes).toBe(0);
      expect(log.rejections('server').map((e) => e.reason)).toEqual(['denied-by-policy']);
    }
  });

  it('refuses a resumed TLS session once the SVID it was made with has expired', async () => {
    // OpenSSL does not look at the certificate again when a session resumes; the sidecar must.
    const expiresAt = Math.ceil((Date.now() + 1_000) / 1_000) * 1_000;
    const shortLived = ca.issue(ORDERS, { notAfter: new Date(expiresAt) });
    const port = await callerSidecar(shortLived);
    const fresh = await plainGet(port);
    expect(fresh.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, expiresAt - Date.now() + 100));
    const stale = await plainGet(port);
    expect((started[0] as Sidecar).stats.outbound.resumed).toBe(1);
    expect(stale.status).toBe(502);
    expect(stale.json).toMatchObject({ reason: 'expired' });
    const server = await log.waitFor(rejectionOn('server'), 'server-side rejection');
    expect(server.reason).toBe('expired');
    expect(server.detail).toMatch(/the certificate expired/);
    expect((await log.waitFor(rejectionOn('client'), 'client-side rejection')).reason).toBe('expired');
    expect(backend.requests).toBe(1);
  });

  it('batches call events under keep-alive load: at most about one per connection per second', async () => {
    const port = await callerSidecar(ordersSvid);
    const connections = 4;
    const m = await measureSidecarHop({ port, connections, durationMs: 1_200 });
    expect(m.failures).toBe(0);
    expect(m.requests).toBeGreaterThan(200);
    expect(backend.requests).toBe(m.requests);
    const calls = await new Promise<CallEvent[]>((resolve) => {
      // The last events come when the connections close, just after measureSidecarHop resolves.
      const poll = (): void => {
        const found = log.events.filter(isCall);
        if (found.reduce((n, e) => n + e.requests, 0) >= m.requests || Date.now() > deadline) resolve(found);
        else setTimeout(poll, 10);
      };
      const deadline = Date.now() + 3_000;
      poll();
    });
    expect(calls.reduce((n, e) => n + e.requests, 0)).toBe(m.requests);
    // Per connection: at most one a second while it runs (2 in 1.2 s), plus one at its close.
    expect(calls.length).toBeLessThanOrEqual(connections * 3);
  });
});
