import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hook, launchChromium, type BrowserHandle } from './pageHarness.js';

const exec = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const SHOTS = join(ROOT, 'test-results', 'screenshots');
const TTL_S = 20;

// The real thing end to end: `mtls-lab up` on the sample mesh, its dashboard in Debian Chromium.
describe('the dashboard of a running mesh (real daemon, real browser)', () => {
  let daemon: ChildProcess;
  let stateDir: string;
  let dashboard: string;
  let browser: BrowserHandle;
  let page: Page;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'mtls-lab-dash-'));
    daemon = spawn(process.execPath, [CLI, 'up', '--state', stateDir, '--no-open', '--ttl', `${TTL_S}s`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    daemon.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    daemon.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const end = Date.now() + 30_000;
    while (!/Entry: /.test(out) && Date.now() < end && daemon.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    const m = /Dashboard: (\S+)/.exec(out);
    if (!m || !/Entry: /.test(out)) throw new Error(`mtls-lab up did not become ready:\n${out}`);
    dashboard = m[1] as string;
    browser = await launchChromium();
    page = await browser.context.newPage();
    // Records the page's own WebSockets, so the test can see which subprotocol admitted them.
    await page.addInitScript(() => {
      const Native = window.WebSocket;
      const opened: WebSocket[] = [];
      (window as unknown as { __sockets: WebSocket[] }).__sockets = opened;
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          opened.push(this);
        }
      };
    });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy/.test(msg.text())) problems.push(msg.text());
    });
    await page.goto(dashboard);
    await page.waitForFunction(() => window.__mtlsLab?.status().state === 'open', undefined, { timeout: 15_000 });
    expect(problems).toEqual([]);
    mkdirSync(SHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    daemon?.kill('SIGINT');
    await new Promise((r) => (daemon?.exitCode !== null ? r(undefined) : daemon.once('exit', r)));
    rmSync(stateDir, { recursive: true, force: true });
  }, 30_000);

  it('shows every service with its SPIFFE ID and time left over a WebSocket admitted by the bearer subprotocol, with no cookie', async () => {
    for (const name of ['frontend', 'orders', 'billing', 'payments', 'inventory']) {
      const row = page.locator('#services-table tr', { hasText: `spiffe://lab.local/ns/default/sa/${name}` });
      await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    }
    const nodes = await hook(page, (h) => h.graph().nodes.map((n) => n.id));
    expect(nodes).toEqual(expect.arrayContaining(['frontend', 'orders', 'billing', 'payments', 'inventory']));

    // The token stays in the address (a reload works) and reaches the WebSocket as its subprotocol, not its URL.
    const token = new URL(dashboard).searchParams.get('token') as string;
    expect(new URL(page.url()).searchParams.get('token')).toBe(token);
    const sockets = await page.evaluate(() =>
      (window as unknown as { __sockets: WebSocket[] }).__sockets.map((ws) => ({ url: ws.url, protocol: ws.protocol, readyState: ws.readyState })),
    );
    expect(sockets).toEqual([{ url: expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+\/api\/events$/), protocol: `mtls-lab.bearer.${token}`, readyState: 1 }]);
    expect(await browser.context.cookies()).toEqual([]);
  });

  it('refuses a WebSocket without the subprotocol, even from the page itself, and keeps working after a reload', async () => {
    const refused = await page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(url);
          ws.onopen = () => resolve('open');
          ws.onclose = () => resolve('closed');
        }),
      dashboard.replace(/^http/, 'ws').replace(/\/\?token=.*$/, '/api/events'),
    );
    expect(refused).toBe('closed');
    await page.reload();
    await page.waitForFunction(() => window.__mtlsLab?.status().state === 'open', undefined, { timeout: 15_000 });
    expect(await browser.context.cookies()).toEqual([]);
  });

  it('shows a rotation within one TTL: the serial in the page changes to the new one', async () => {
    const serialOf = (): Promise<string | undefined> => hook(page, (h) => h.model().nodes.find((n) => n.id === 'payments')?.cert?.serial);
    const first = await serialOf();
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    await expect.poll(serialOf, { timeout: TTL_S * 1000, interval: 500 }).not.toBe(first);
    const log = await page.textContent('#event-log');
    expect(log).toMatch(/payments/);
    await page.screenshot({ path: join(SHOTS, 'dashboard-rotation.png') });
  }, TTL_S * 1000 + 10_000);

  it('after an attack shows the intruder, the red edge and the reason', async () => {
    const r = await exec(process.execPath, [CLI, 'attack', 'rogue-ca', '--state', stateDir, '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ rejected: true, reason: 'unknown-ca' });
    await page.waitForFunction(() => window.__mtlsLab?.graph().edges.some((e) => e.state === 'rejected' && e.target === 'payments'), undefined, { timeout: 10_000 });
    const edge = await hook(page, (h) => h.graph().edges.find((e) => e.state === 'rejected' && e.target === 'payments'));
    const palette = await hook(page, (h) => h.palette());
    expect(edge?.lineColor).toBe(palette.bad);
    expect(edge?.label).toContain('unknown-ca');
    await expect.poll(() => page.textContent('#event-log'), { timeout: 5_000 }).toMatch(/unknown-ca/);
    await page.screenshot({ path: join(SHOTS, 'dashboard-attack.png') });
  }, 30_000);
});
