// The sample shop wired directly (each UPSTREAM_*_URL is the next service's plain port, no mesh in
// between): an order goes frontend → orders → inventory + billing → payments and comes back whole;
// the traffic generator gets answers; a dead upstream is reported, hop by hop, as a 502.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/core/events/bus.js';
import { ServiceRunner } from '../../../src/core/mesh/serviceRunner.js';
import { SAMPLES_DIR, freePort, httpRequest, isAlive, removeDir, runNode, tempDir, type HttpAnswer } from '../serviceRunner/support.js';
import { startSample } from './support.js';

const NAMES = ['payments', 'billing', 'inventory', 'orders', 'frontend'] as const;
type Name = (typeof NAMES)[number];

let dir = '';
let runner: ServiceRunner | undefined;
const ports = {} as Record<Name, number>;
const pids: number[] = [];

beforeAll(async () => {
  dir = tempDir('samples-chain');
  runner = new ServiceRunner({ bus: new EventBus(), logDir: join(dir, 'logs') });
  for (const n of NAMES) ports[n] = await freePort();
  const upstreams: Record<string, string> = {};
  for (const n of NAMES) upstreams[`UPSTREAM_${n.toUpperCase()}_URL`] = `http://127.0.0.1:${ports[n]}`;
  const r = runner;
  await Promise.all(NAMES.map((n) => startSample(r, n, ports[n], upstreams)));
  for (const n of NAMES) pids.push(r.pid(n) as number);
});

afterAll(async () => {
  await runner?.stopAll();
  for (const pid of pids) expect(isAlive(pid)).toBe(false);
  removeDir(dir);
});

interface Order {
  servedBy: string;
  orderId: string;
  status: string;
  items: { sku: string; qty: number; unitPriceCents: number }[];
  subtotalCents: number;
  totalCents: number;
  reservation: { servedBy: string; reservationId: string };
  invoice: { servedBy: string; invoiceId: string; taxCents: number; totalCents: number; payment: { servedBy: string; paymentId: string; status: string; amountCents: number } };
}

function orderOf(a: HttpAnswer): Order {
  expect(a.status, a.text).toBe(200);
  const body = a.json as { servedBy: string; order: Order };
  expect(body.servedBy).toBe('frontend');
  return body.order;
}

const ORDER_CASES: readonly { name: string; method: string; body?: unknown; check: (o: Order) => void }[] = [
  {
    name: 'GET /api/order: a random cart',
    method: 'GET',
    check: (o) => expect(o.status).toBe('confirmed'),
  },
  {
    name: 'POST /api/order: two mugs',
    method: 'POST',
    body: { customerId: 'cust-42', items: [{ sku: 'sku-mug', qty: 2 }] },
    check: (o) => {
      expect(o).toMatchObject({ status: 'confirmed', subtotalCents: 2_400, totalCents: 2_880, items: [{ sku: 'sku-mug', qty: 2, unitPriceCents: 1_200 }] });
      expect(o.invoice).toMatchObject({ taxCents: 480, totalCents: 2_880, payment: { status: 'captured', amountCents: 2_880 } });
    },
  },
  {
    name: 'POST /api/order: a cart over the card limit',
    method: 'POST',
    body: { items: [{ sku: 'sku-hoodie', qty: 20 }, { sku: 'sku-tee', qty: 20 }] },
    check: (o) => {
      expect(o.status).toBe('payment-declined');
      expect(o.invoice.payment.status).toBe('declined');
    },
  },
];

describe('sample shop, services wired directly', () => {
  it('serves the shop page', async () => {
    const a = await httpRequest(ports.frontend, 'GET', '/');
    expect(a.status).toBe(200);
    expect(a.contentType).toMatch(/^text\/html/);
    expect(a.text).toContain('<title>Lab Shop');
    expect(a.text).toContain('data-sku="sku-mug"');
  });

  it.each(ORDER_CASES)('$name crosses every service and adds up', async (c) => {
    const o = orderOf(await httpRequest(ports.frontend, c.method, '/api/order', c.body));
    expect(o.orderId).toMatch(/^ord_[0-9a-f]{12}$/);
    expect([o.servedBy, o.reservation.servedBy, o.invoice.servedBy, o.invoice.payment.servedBy]).toEqual(['orders', 'inventory', 'billing', 'payments']);
    expect(o.reservation.reservationId).toMatch(/^res_/);
    expect(o.invoice.invoiceId).toMatch(/^inv_/);
    expect(o.invoice.payment.paymentId).toMatch(/^pay_/);
    expect(o.subtotalCents).toBe(o.items.reduce((s, l) => s + l.qty * l.unitPriceCents, 0));
    expect(o.totalCents).toBe(o.subtotalCents + o.invoice.taxCents);
    c.check(o);
    // orders remembers what it placed.
    const again = await httpRequest(ports.orders, 'GET', `/api/orders/${o.orderId}`);
    expect(again.json).toMatchObject({ orderId: o.orderId, totalCents: o.totalCents });
  });

  it('passes a client error back up the chain as a 502 naming each hop', async () => {
    const a = await httpRequest(ports.frontend, 'POST', '/api/order', { items: [{ sku: 'sku-unicorn', qty: 1 }] });
    expect(a.status).toBe(502);
    expect(a.json).toMatchObject({
      error: 'upstream-failed',
      service: 'frontend',
      upstream: 'orders',
      status: 502,
      body: { service: 'orders', upstream: 'inventory', status: 400, body: { error: 'unknown-sku', sku: 'sku-unicorn' } },
    });
  });

  it('the traffic generator places orders steadily and exits 0 when all succeeded', async () => {
    const run = await runNode(join(SAMPLES_DIR, 'traffic', 'traffic.js'), [], { ENTRY_URL: `http://127.0.0.1:${ports.frontend}`, TRAFFIC_RPS: '25', TRAFFIC_COUNT: '10' });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('sending 25 order(s)/s');
    expect(run.stdout).toContain('done: 10 ok, 0 failed, 0 skipped');
  });

  it('reports an upstream that is down as upstream-unavailable, and traffic logs the failure', async () => {
    await runner?.stop('payments');
    const a = await httpRequest(ports.frontend, 'GET', '/api/order');
    expect(a.status).toBe(502);
    expect(a.json).toMatchObject({ upstream: 'orders', body: { upstream: 'billing', body: { error: 'upstream-unavailable', service: 'billing', upstream: 'payments', code: 'ECONNREFUSED' } } });
    const run = await runNode(join(SAMPLES_DIR, 'traffic', 'traffic.js'), [], { ENTRY_URL: `http://127.0.0.1:${ports.frontend}`, TRAFFIC_RPS: '50', TRAFFIC_COUNT: '2' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/POST \/api\/order failed: status 502, body \{"error":"upstream-failed"/);
    expect(run.stdout).toContain('done: 0 ok, 2 failed');
  });
});
