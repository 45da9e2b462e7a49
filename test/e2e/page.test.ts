// The graph page in a real Chromium (slow: ~15 s). A fake daemon sends a six-service mesh, then a
// rotation and an intruder's refused call; the text view, the canvas state and the actions must
// all show them. Also: both themes (screenshots), reconnect, and frame times under load.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventFactory, FakeMesh, meshSnapshot, serialOf, SIX_SERVICES, spiffeIdOf } from './meshFixture.js';
import { buildPage, hook, launchChromium, measureGraphFrames, startPageServer } from './pageHarness.js';
import type { BrowserHandle, PageServer } from './pageHarness.js';

const RESULTS = resolve(__dirname, '..', '..', 'test-results');
const SHOTS = join(RESULTS, 'screenshots');
const TTL = 5 * 60_000;
const INTRUDER_EDGE = '@intruder->orders';

describe('graph page in Chromium (slow)', () => {
  let assets: string;
  let server: PageServer;
  let browser: BrowserHandle;
  const factory = new EventFactory();
  const mesh = new FakeMesh(meshSnapshot({ services: 6, now: Date.now(), ttlMs: TTL }));
  const violations: string[] = [];
  let page: Page;

  async function open(colorScheme: 'light' | 'dark'): Promise<Page> {
    const p = await browser.context.newPage();
    await p.emulateMedia({ colorScheme, reducedMotion: 'no-preference' });
    p.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    p.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
    await p.goto(server.url);
    await p.waitForFunction(() => document.querySelectorAll('#services-table tbody tr').length === 6);
    return p;
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    assets = await buildPage();
    server = await startPageServer({
      assetsDir: assets,
      mesh,
      onCommand: (c) => (c.name === 'attack' && c.target === 'payments' ? { ok: false, error: 'attack: the intruder process gave no report.', code: 'intruder-failed' } : { ok: true, result: {} }),
    });
    browser = await launchChromium();
    page = await open('light');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (assets !== undefined) rmSync(assets, { recursive: true, force: true });
  });

  it('says ready, then lists every service with its SPIFFE ID in the text view and on the canvas', async () => {
    expect({ ready: server.readyCount, connections: server.connections, closes: server.closes }).toEqual({ ready: 1, connections: 1, closes: [] });
    const rows = await page.$$eval('#services-table tbody tr', (trs) =>
      trs.map((tr) => ({ name: tr.querySelector('th')?.textContent, id: tr.querySelector('td code')?.textContent, left: tr.querySelector('.time-left')?.textContent })),
    );
    expect(rows.map((r) => r.name)).toEqual([...SIX_SERVICES]);
    for (const r of rows) {
      expect(r.id).toBe(spiffeIdOf(r.name as string));
      expect(r.left).toMatch(/^\d+m \d\ds$|^\d+s$/);
    }
    const graph = await hook(page, (h) => h.graph());
    expect(graph.nodes.map((n) => n.id)).toEqual([...SIX_SERVICES]);
    expect(graph.nodes.find((n) => n.id === 'orders')?.label).toMatch(/^orders\nspiffe:\/\/lab\.local\n\/ns\/default\/sa\/orders\nsidecar · \d+m \d\ds$/);
    expect(graph.edges).toHaveLength(5);
    expect(graph.layouts).toBe(1);
  });

  it('shows a rotation: the new serial in the text view, a rotation in the model and a tick on the timeline', async () => {
    const now = Date.now();
    server.sendEvents([factory.handshake('frontend', 'orders', now), factory.call('frontend', 'orders', 12, now), factory.rotation('orders', 2, TTL, now)]);
    const serial = serialOf('orders', 2);
    await page.waitForFunction((s) => document.querySelector('#services-table tr[data-service="orders"] td:nth-of-type(4) code')?.textContent === s, serial);
    const orders = await hook(page, (h) => h.model().nodes.find((n) => n.id === 'orders'));
    expect(orders).toMatchObject({ rotations: 1, pulses: 1 });
    await page.waitForFunction(() => document.querySelectorAll('#timeline line.tick').length >= 1, undefined, { timeout: 5000 });
    await expect(page.locator('#event-log li[data-type="svid/issued"]').first()).toBeTruthy();
    await page.waitForFunction(() => window.__mtlsLab?.graph().edges.find((e) => e.id === 'frontend->orders')?.state === 'locked');
    expect(await hook(page, (h) => h.graph().lockedEdges)).toBe(1);
  });

  it("shows the intruder's rejection: reason in the text view and a red edge on the canvas, with details for the call", async () => {
    const now = Date.now();
    server.sendEvents([
      factory.rejection('orders', 'unknown-ca', 'the client certificate for spiffe://lab.local/ns/default/sa/frontend chains to no root in the lab.local bundle', { spiffeId: spiffeIdOf('frontend'), address: '127.0.0.1:61000' }, now),
      factory.attack('rogue-ca', 'orders', 'unknown-ca', now + 20),
    ]);
    await page.waitForSelector('#event-log li[data-reason="unknown-ca"]');
    await page.waitForFunction((id) => document.querySelector(`#edges-table tr[data-edge="${id}"] td.reason`)?.textContent === 'unknown-ca (rogue-ca)', INTRUDER_EDGE);
    await page.waitForFunction((id) => window.__mtlsLab?.graph().edges.some((e) => e.id === id), INTRUDER_EDGE);
    const { edge, palette, intruder } = await hook(page, (h) => ({
      edge: h.graph().edges.find((e) => e.id === '@intruder->orders'),
      intruder: h.graph().nodes.find((n) => n.id === '@intruder'),
      palette: h.palette(),
    }));
    expect(edge).toMatchObject({ state: 'rejected', label: '✕ unknown-ca', lineColor: palette.bad });
    expect(intruder?.classes).toContain('intruder');
    expect(await page.textContent('#edges-table tr[data-edge="@intruder->orders"] td.state')).toBe('rejected');
    // The frontend edge stays green: an impostor is not drawn as the identity it claimed.
    expect((await hook(page, (h) => h.graph().edges.find((e) => e.id === 'frontend->orders')))?.lineColor).toBe(palette.ok);

    await page.click('#edges-table button[data-select="@intruder->orders"]');
    await page.waitForFunction(() => document.querySelector('#details-body h3')?.textContent === 'intruder → orders');
    const details = await page.textContent('#details-body');
    expect(details).toContain("Last rejections by the callee's side");
    expect(details).toContain('unknown-ca');
    expect(details).toContain('attack rogue-ca');
    // The identity it claimed earns the impostor no rule.
    expect(details).toContain('None applies: the caller was refused before the policy');
    expect(details).not.toContain('frontend-to-orders');

    await page.fill('#log-filter', 'unknown-ca');
    await page.waitForFunction(() => document.querySelectorAll('#event-log li').length === 2);
    const texts = await page.$$eval('#event-log li', (lis) => lis.map((li) => li.textContent ?? ''));
    expect(texts.every((t) => t.includes('unknown-ca'))).toBe(true);
    await page.fill('#log-filter', '');

    await page.click('#services-table button[data-select="orders"]');
    await page.waitForFunction(() => document.querySelector('#details-body h3')?.textContent === 'orders');
    const chain = await page.textContent('#details-body ol.chain');
    expect(chain).toContain(serialOf('orders', 2));
    expect(chain).toContain('ec-p256');
    expect(chain).toContain('CN=mTLS Lab root CA');
    expect(await page.textContent('#details-body')).toContain('frontend-to-orders');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SHOTS, 'graph-light.png') });
    await page.screenshot({ path: join(SHOTS, 'page-light-full.png'), fullPage: true });
  });

  it('runs actions as typed commands and shows the reply, success or failure', async () => {
    await page.click('#rotate-ca');
    await page.waitForFunction(() => document.querySelector('#action-status')?.textContent === 'Rotating the CA: done.');
    await page.selectOption('#attack-scenario', 'rogue-ca');
    await page.selectOption('#attack-target', 'payments');
    await page.click('#run-attack');
    await page.waitForFunction(() => document.querySelector('#action-status')?.getAttribute('data-state') === 'error');
    expect(await page.textContent('#action-status')).toBe('Attack rogue-ca on payments: attack: the intruder process gave no report.');
    await page.click('#details-body button[data-action="rotate"]');
    await page.waitForFunction(() => document.querySelector('#action-status')?.textContent === "Rotating orders's SVID: done.");
    expect(server.commands).toEqual([{ name: 'ca/rotate' }, { name: 'attack', scenario: 'rogue-ca', target: 'payments' }, { name: 'rotate', service: 'orders' }]);
  });

  it('offers to allow a call the policy denied, and sends the rule', async () => {
    server.sendEvents([factory.rejection('payments', 'denied-by-policy', 'spiffe://lab.local/ns/default/sa/orders may not call payments: no rule allows it', factory.peer('orders'), Date.now(), 'default-deny')]);
    const allow = page.locator('#edges-table tr[data-edge="orders->payments"] button:not([data-select])');
    await allow.waitFor({ state: 'visible' });
    await allow.click();
    await page.waitForFunction(() => document.querySelector('#action-status')?.getAttribute('data-state') === 'ok');
    expect(server.commands.at(-1)).toEqual({ name: 'policy/allow', from: spiffeIdOf('orders'), to: spiffeIdOf('payments') });
  });

  it('has a dark look in a dark browser, with the same data from a fresh snapshot', async () => {
    const dark = await open('dark');
    try {
      await dark.waitForFunction((id) => window.__mtlsLab?.graph().edges.some((e) => e.id === id && e.state === 'rejected'), INTRUDER_EDGE);
      const { palette, edge } = await hook(dark, (h) => ({ palette: h.palette(), edge: h.graph().edges.find((e) => e.id === '@intruder->orders') }));
      const light = await hook(page, (h) => h.palette());
      const lum = (rgb: string): number => (rgb.match(/\d+/g) ?? ['0', '0', '0']).slice(0, 3).map(Number).reduce((a, b) => a + b, 0) / 3;
      expect(lum(palette.bg)).toBeLessThan(60);
      expect(lum(light.bg)).toBeGreaterThan(200);
      expect(edge?.lineColor).toBe(palette.bad);
      expect(await dark.textContent('#services-table tr[data-service="orders"] td:nth-of-type(4) code')).toBe(serialOf('orders', 2));
      await dark.click('#edges-table button[data-select="@intruder->orders"]');
      await dark.evaluate(() => window.scrollTo(0, 0));
      await dark.waitForTimeout(300);
      await dark.screenshot({ path: join(SHOTS, 'graph-dark.png') });
    } finally {
      await dark.close();
    }
  });

  it('reconnects after the stream drops, says ready again and catches up from the snapshot', async () => {
    const before = server.readyCount;
    server.dropConnections();
    await page.waitForFunction(() => document.querySelector('#connection')?.getAttribute('data-state') === 'closed');
    // Sent while the page is away: it must arrive with the next snapshot.
    server.sendEvents([factory.rotation('billing', 2, TTL, Date.now())]);
    await server.waitForReady(before + 1);
    await page.waitForFunction(() => document.querySelector('#connection')?.getAttribute('data-state') === 'open');
    await page.waitForFunction((s) => document.querySelector('#services-table tr[data-service="billing"] td:nth-of-type(4) code')?.textContent === s, serialOf('billing', 2));
    expect(violations).toEqual([]);
  });

  it('stays responsive with 200 services and 1,000 events/s (frame times by requestAnimationFrame)', async () => {
    const report = await measureGraphFrames({ services: 200, eventsPerSecond: 1000, seconds: 3, browser, assetsDir: assets, screenshot: join(SHOTS, 'graph-200-services.png') });
    writeFileSync(join(RESULTS, 'graph-perf.json'), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`graph perf: ${JSON.stringify(report)}`);
    expect(report.eventsSeen).toBe(report.eventsSent);
    expect(report.frames.frames).toBeGreaterThan(30);
    expect(report.frames.p95Ms).toBeLessThan(100);
    // Batching: the graph renders a few times a second, not once per event.
    expect(report.renders['graph']).toBeLessThan(40);
  }, 60_000);
});
