// Runs the graph page for real: the built bundle and a pageShell page from a tiny HTTP server on
// 127.0.0.1, a fake daemon stream on the same port (ws: ready → snapshot → events; commands →
// replies), and Debian's Chromium through playwright-core. The browser test and the graph
// benchmark (bench/graph.ts) share it; `measureGraphFrames` is the benchmark's entry point.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { WebSocket, WebSocketServer } from 'ws';
import type { MeshEvent } from '../../src/core/events/types.js';
import { isClientMessage } from '../../src/protocol/messages.js';
import type { CommandReply, MeshCommand, ServerMessage } from '../../src/protocol/messages.js';
import { pageShell } from '../../src/protocol/pageShell.js';
import type { FrameStats } from '../../webview/perf.js';
import type { PageHook } from '../../webview/main.js';
import { EventFactory, FakeMesh, meshSnapshot, seededRandom, trafficEvents } from './meshFixture.js';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(__dirname, '..', '..');

/** Builds the page bundle into a fresh folder with the project's own build script. */
export async function buildPage(outdir: string = mkdtempSync(join(tmpdir(), 'mtls-lab-webview-'))): Promise<string> {
  await new Promise<void>((ok, fail) => {
    execFile(process.execPath, [join(ROOT, 'scripts', 'build-webview.mjs'), '--outdir', outdir], { cwd: ROOT }, (err, _out, stderr) =>
      err ? fail(new Error(`build-webview failed: ${stderr || err.message}`)) : ok(),
    );
  });
  return outdir;
}

export interface PageServer {
  readonly url: string;
  readonly port: number;
  /** How many times a page said `ready`. */
  readonly readyCount: number;
  /** WebSocket connections accepted, and how each closed (code and reason). */
  readonly connections: number;
  readonly closes: readonly string[];
  readonly commands: readonly MeshCommand[];
  /** Records the events in the mesh and sends them to every page, as one batch. */
  sendEvents(events: readonly MeshEvent[]): void;
  /** Drops every page's connection (they reconnect). */
  dropConnections(): void;
  waitForReady(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface PageServerOptions {
  readonly assetsDir: string;
  readonly mesh: FakeMesh;
  /** Answers commands; default: ok with no result. */
  readonly onCommand?: (command: MeshCommand) => Omit<CommandReply, 'type' | 'id'>;
}

/** Serves `/` (a pageShell page), `/main.js`, `/main.css`, and the event stream on `/api/events`. 127.0.0.1 only. */
export async function startPageServer(o: PageServerOptions): Promise<PageServer> {
  const js = readFileSync(join(o.assetsDir, 'main.js'));
  const css = readFileSync(join(o.assetsDir, 'main.css'));
  let port = 0;
  const http: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/') {
      const html = pageShell({ nonce: randomBytes(16).toString('base64'), scriptUri: '/main.js', styleUri: '/main.css', cspSource: "'self'", title: 'mTLS Lab', connectSrc: `ws://127.0.0.1:${port}` });
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      return res.end(html);
    }
    if (path === '/main.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      return res.end(js);
    }
    if (path === '/main.css') {
      res.writeHead(200, { 'Content-Type': 'text/css; charset=utf-8' });
      return res.end(css);
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server: http, path: '/api/events' });
  let readyCount = 0;
  const readyWaiters: (() => void)[] = [];
  const commands: MeshCommand[] = [];
  const send = (ws: WebSocket, m: ServerMessage): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
  };
  let connections = 0;
  const closes: string[] = [];
  wss.on('connection', (ws) => {
    connections++;
    ws.on('close', (code, reason) => closes.push(`${code} ${String(reason)}`));
    ws.on('message', (data) => {
      let value: unknown;
      try {
        value = JSON.parse(String(data));
      } catch {
        return ws.close(1008, 'not JSON');
      }
      if (!isClientMessage(value)) return ws.close(1008, 'unknown message');
      if (value.type === 'ready') {
        readyCount++;
        send(ws, { type: 'mesh/snapshot', snapshot: o.mesh.snapshot() });
        for (const w of readyWaiters.splice(0)) w();
        return;
      }
      commands.push(value.command);
      const answer = o.onCommand?.(value.command) ?? { ok: true };
      send(ws, { type: 'reply', id: value.id, ...answer });
    });
  });
  await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
  port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    get readyCount() {
      return readyCount;
    },
    get connections() {
      return connections;
    },
    closes,
    commands,
    sendEvents(events) {
      o.mesh.record(events);
      const message: ServerMessage = events.length === 1 ? { type: 'mesh/event', event: events[0] as MeshEvent } : { type: 'mesh/events', events };
      const text = JSON.stringify(message);
      for (const ws of wss.clients) if (ws.readyState === WebSocket.OPEN) ws.send(text);
    },
    dropConnections() {
      for (const ws of wss.clients) ws.terminate();
    },
    async waitForReady(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (readyCount < count) {
        if (Date.now() > deadline) throw new Error(`page said ready ${readyCount} times, expected ${count}`);
        await new Promise<void>((ok) => {
          readyWaiters.push(ok);
          setTimeout(ok, 100);
        });
      }
    },
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
      http.closeAllConnections();
      await new Promise<void>((ok) => http.close(() => ok()));
    },
  };
}

export interface BrowserHandle {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Debian's Chromium, headless, in a fresh profile folder that is removed on close. */
export async function launchChromium(): Promise<BrowserHandle> {
  const profile = mkdtempSync(join(tmpdir(), 'mtls-lab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Reads the page's test hook. */
export function hook<T>(page: Page, read: (h: PageHook) => T): Promise<T> {
  return page.evaluate(`(${read.toString()})(window.__mtlsLab)`) as Promise<T>;
}

export interface GraphPerfOptions {
  readonly services?: number;
  readonly eventsPerSecond?: number;
  readonly seconds?: number;
  /** Events per WebSocket frame interval, as the daemon batches (ms). */
  readonly batchIntervalMs?: number;
  /** Reuse a running browser; else one is launched and closed. */
  readonly browser?: BrowserHandle;
  /** A built bundle; else one is built into a temporary folder. */
  readonly assetsDir?: string;
  /** Where to save a screenshot of the page at the end of the run. */
  readonly screenshot?: string;
}

export interface GraphPerfReport {
  readonly services: number;
  readonly edges: number;
  readonly eventsPerSecond: number;
  readonly seconds: number;
  readonly eventsSent: number;
  readonly eventsSeen: number;
  /** From page load to the laid-out graph of every service. */
  readonly firstRenderMs: number;
  readonly frames: FrameStats;
  /** How often each part of the page rendered during the run. */
  readonly renders: Readonly<Record<string, number>>;
  /** Milliseconds each part of the page spent rendering during the run. */
  readonly renderMs: Readonly<Record<string, number>>;
}

/**
 * Loads the page with a mesh of `services` services, streams `eventsPerSecond` events for
 * `seconds` in daemon-sized batches, and measures frame times by requestAnimationFrame deltas.
 */
export async function measureGraphFrames(o: GraphPerfOptions = {}): Promise<GraphPerfReport> {
  const services = o.services ?? 200;
  const eventsPerSecond = o.eventsPerSecond ?? 1000;
  const seconds = o.seconds ?? 3;
  const interval = o.batchIntervalMs ?? 50;
  const ownAssets = o.assetsDir === undefined;
  const assetsDir = o.assetsDir ?? (await buildPage());
  const snapshot = meshSnapshot({ services, now: Date.now(), ttlMs: 10 * 60_000 });
  const mesh = new FakeMesh(snapshot);
  const server = await startPageServer({ assetsDir, mesh });
  const browser = o.browser ?? (await launchChromium());
  const page = await browser.context.newPage();
  try {
    const loadStart = Date.now();
    await page.goto(server.url);
    await page.waitForFunction((n) => (window.__mtlsLab?.graph().nodes.length ?? 0) >= n && document.querySelectorAll('#services-table tbody tr').length >= n, services, { timeout: 30_000 });
    const firstRenderMs = Date.now() - loadStart;
    const edges = await hook(page, (h) => h.graph().edges.length);
    const before = await hook(page, (h) => ({ ...h.renders(), seen: h.model().eventsSeen }));
    const msBefore = await hook(page, (h) => h.renderMs());
    const factory = new EventFactory(mesh.snapshot().recentEvents.length);
    const random = seededRandom(42);
    const generations = new Map<string, number>();
    const perBatch = Math.max(1, Math.round((eventsPerSecond * interval) / 1000));
    const batches = Math.round((seconds * 1000) / interval);
    await hook(page, (h) => h.frames.start());
    let sent = 0;
    const t0 = Date.now();
    for (let i = 0; i < batches; i++) {
      const events = trafficEvents(snapshot, factory, perBatch, Date.now(), random, generations);
      server.sendEvents(events);
      sent += events.length;
      const wait = t0 + (i + 1) * interval - Date.now();
      if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
    }
    await page.waitForFunction((n) => (window.__mtlsLab?.model().eventsSeen ?? 0) >= n, before.seen + sent, { timeout: 10_000 });
    const frames = await hook(page, (h) => h.frames.stop());
    if (o.screenshot !== undefined) await page.screenshot({ path: o.screenshot });
    const after = await hook(page, (h) => ({ ...h.renders(), seen: h.model().eventsSeen }));
    const renders: Record<string, number> = {};
    for (const [k, v] of Object.entries(after)) if (k !== 'seen') renders[k] = v - ((before as Record<string, number>)[k] ?? 0);
    const msAfter = await hook(page, (h) => h.renderMs());
    const renderMs: Record<string, number> = {};
    for (const [k, v] of Object.entries(msAfter)) renderMs[k] = Math.round((v - (msBefore[k] ?? 0)) * 10) / 10;
    return { services, edges, eventsPerSecond, seconds, eventsSent: sent, eventsSeen: after.seen - before.seen, firstRenderMs, frames, renders, renderMs };
  } finally {
    await page.close();
    if (o.browser === undefined) await browser.close();
    await server.close();
    if (ownAssets) rmSync(assetsDir, { recursive: true, force: true });
  }
}
