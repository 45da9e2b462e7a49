// The control API against a real server on 127.0.0.1: real HTTP requests (with the Host, Origin
// and Cookie headers a browser or an attacker would send) and real WebSocket clients (with a
// Bearer or the page's bearer subprotocol), driving a small in-memory MeshController.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { EventBus } from '../../../src/core/events/bus.js';
import type { MeshEvent } from '../../../src/core/events/types.js';
import { startControlApi } from '../../../src/daemon/controlApi.js';
import type { ControlApi, ControlApiOptions, MeshController } from '../../../src/daemon/controlApi.js';
import { DAEMON_FILE_NAME, readDaemonFile, removeDaemonFile, writeDaemonFile } from '../../../src/daemon/daemonFile.js';
import type { DaemonInfo } from '../../../src/daemon/daemonFile.js';
import { CommandError, DaemonError } from '../../../src/daemon/errors.js';
import { isServerMessage } from '../../../src/protocol/messages.js';
import type { MeshCommand, ServerMessage } from '../../../src/protocol/messages.js';
import type { MeshSnapshot, ServiceSnapshot } from '../../../src/protocol/snapshot.js';
import { bearerProtocol } from '../../../webview/transport.js';

// ── a tiny mesh ───────────────────────────────────────────────────────────────────────────

class FakeMesh implements MeshController {
  readonly bus = new EventBus();
  readonly executed: MeshCommand[] = [];
  private readonly serials = new Map<string, number>([
    ['orders', 1],
    ['billing', 1],
  ]);
  private readonly rules = new Set<string>(['orders-to-billing']);

  snapshot(): MeshSnapshot {
    const services: ServiceSnapshot[] = [...this.serials].map(([name, serial]) => ({
      name,
      spiffeId: `spiffe://lab.local/ns/default/sa/${name}`,
      mode: 'sidecar',
      entry: name === 'orders',
      state: 'running',
      serial: `${name}-${serial}`,
      notBefore: '2030-01-01T00:00:00.000Z',
      notAfter: '2030-01-01T01:00:00.000Z',
      rotations: serial - 1,
      upstreams: [],
      files: { cert: `/state/svids/${name}/svid.pem`, key: `/state/svids/${name}/svid_key.pem`, bundle: `/state/svids/${name}/svid_bundle.pem` },
    }));
    return {
      trustDomain: 'lab.local',
      mode: 'strict',
      ttlMs: 3_600_000,
      startedAt: '2030-01-01T00:00:00.000Z',
      ca: { keyType: 'ec-p256', intermediate: false, bundleSequence: 1, authorities: [] },
      services,
      policy: { mode: 'strict', rules: [...this.rules].map((name) => ({ name, from: ['orders'], to: ['billing'] })) },
      recentEvents: [],
    };
  }

  onEvent(listener: (event: MeshEvent) => void): () => void {
    return this.bus.on(listener);
  }

  emitCall(n: number): MeshEvent {
    return this.bus.emit({ type: 'call', caller: { service: 'orders' }, callee: { service: 'billing' }, requests: n, bytesIn: 0, bytesOut: 0 });
  }

  async execute(command: MeshCommand): Promise<unknown> {
    this.executed.push(command);
    switch (command.name) {
      case 'rotate': {
        const names = command.service === undefined ? [...this.serials.keys()] : [command.service];
        for (const name of names) {
          const serial = this.serials.get(name);
          if (serial === undefined) throw new CommandError('unknown-service', `mesh: there is no service "${name}"; the services are orders and billing.`);
          this.serials.set(name, serial + 1);
        }
        return { rotated: names };
      }
      case 'ca/rotate':
        return undefined;
      case 'attack':
        if (command.target === 'crash') throw new Error('the attack harness fell over');
        if (command.target === 'busy') throw new CommandError('busy', 'attacks: another attack is running; wait for it to finish.');
        return { scenario: command.scenario, rejected: true, reason: 'unknown-ca' };
      case 'policy/allow':
        this.rules.add(`${command.from}-to-${command.to}`);
        return { rule: `${command.from}-to-${command.to}` };
      case 'policy/remove':
        if (!this.rules.delete(command.rule)) throw new CommandError('unknown-rule', `policy: there is no rule "${command.rule}".`);
        return { removed: command.rule };
    }
  }
}

// ── plumbing: every server, socket and folder is closed after each test ───────────────────

const apis: ControlApi[] = [];
const sockets: WebSocket[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(apis.splice(0).map((api) => api.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: Partial<ControlApiOptions> = {}): Promise<{ api: ControlApi; mesh: FakeMesh }> {
  const mesh = new FakeMesh();
  const api = await startControlApi({ controller: mesh, ...options });
  apis.push(api);
  return { api, mesh };
}

interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

interface HttpOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** One request on a fresh connection; `headers.host` overrides the Host header. */
function http(port: number, path: string, options: HttpOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false, headers: { host: `127.0.0.1:${port}`, ...options.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function json(r: HttpResult): Record<string, unknown> {
  expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
  return JSON.parse(r.text) as Record<string, unknown>;
}

function bearer(api: ControlApi): Record<string, string> {
  return { authorization: `Bearer ${api.token}` };
}

/** A cookie as the old dashboard set it, and as any local server on another port could have collected and replayed it. */
function replayedCookie(api: ControlApi): string {
  return `mtls_lab_${api.port}=${api.token}`;
}

/** A WebSocket client that records every message from the moment it connects. */
class Client {
  readonly messages: ServerMessage[] = [];
  readonly frames: string[] = [];
  private wake: (() => void) | undefined;

  constructor(readonly ws: WebSocket) {
    sockets.push(ws);
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      this.frames.push(text);
      const message: unknown = JSON.parse(text);
      expect(isServerMessage(message)).toBe(true);
      this.messages.push(message as ServerMessage);
      this.wake?.();
    });
  }

  events(): MeshEvent[] {
    return this.messages.flatMap((m) => (m.type === 'mesh/events' ? [...m.events] : m.type === 'mesh/event' ? [m.event] : []));
  }

  async until(done: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`test: timed out waiting for ${what}; got ${this.messages.length} messages.`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }
}

type WsOutcome =
  | { readonly client: Client; readonly headers: IncomingHttpHeaders }
  | { readonly status: number; readonly body: string; readonly headers: IncomingHttpHeaders };

interface WsOptions {
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly origin?: string;
  /** Subprotocols to offer, as a browser page does with `new WebSocket(url, protocols)`. */
  readonly protocols?: readonly string[];
}

function connectWs(port: number, options: WsOptions = {}): Promise<WsOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${options.path ?? '/api/events'}`, [...(options.protocols ?? [])], {
      headers: { host: `127.0.0.1:${port}`, ...options.headers },
      ...(options.origin === undefined ? {} : { origin: options.origin }),
    });
    const client = new Client(ws);
    let headers: IncomingHttpHeaders = {};
    ws.once('upgrade', (res) => (headers = res.headers));
    ws.once('open', () => resolve({ client, headers }));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    ws.once('error', reject);
  });
}

async function connected(port: number, options: WsOptions): Promise<Client> {
  const outcome = await connectWs(port, options);
  if (!('client' in outcome)) throw new Error(`test: the WebSocket was refused with ${outcome.status}: ${outcome.body}`);
  await outcome.client.until(() => outcome.client.messages.length > 0, 'the first message');
  return outcome.client;
}

// ── tests ─────────────────────────────────────────────────────────────────────────────────

describe('control API: the token', () => {
  interface Row {
    readonly name: string;
    readonly method?: string;
    readonly path: (api: ControlApi) => string;
    readonly headers: (api: ControlApi) => Record<string, string>;
    readonly status: number;
  }
  const rows: readonly Row[] = [
    { name: 'no credentials', path: () => '/api/state', headers: () => ({}), status: 401 },
    { name: 'wrong Bearer token', path: () => '/api/state', headers: () => ({ authorization: 'Bearer 0123456789abcdef0123456789abcdef' }), status: 401 },
    { name: 'right token with the Basic scheme', path: () => '/api/state', headers: (a) => ({ authorization: `Basic ${a.token}` }), status: 401 },
    { name: 'right token prefixed', path: () => '/api/state', headers: (a) => ({ authorization: `Bearer x${a.token}` }), status: 401 },
    { name: '?token= is only for the page, not the API', path: (a) => `/api/state?token=${a.token}`, headers: () => ({}), status: 401 },
    { name: 'the token is not a cookie', path: () => '/api/state', headers: (a) => ({ cookie: replayedCookie(a) }), status: 401 },
    { name: 'a replayed cookie on the page', path: () => '/', headers: (a) => ({ cookie: replayedCookie(a) }), status: 401 },
    { name: 'a replayed cookie with the same Origin', path: () => '/api/state', headers: (a) => ({ cookie: replayedCookie(a), origin: `http://127.0.0.1:${a.port}` }), status: 401 },
    { name: 'the bearer subprotocol is only for the WebSocket', path: () => '/api/state', headers: (a) => ({ 'sec-websocket-protocol': bearerProtocol(a.token) }), status: 401 },
    { name: 'page with ?token= by POST', method: 'POST', path: (a) => `/?token=${a.token}`, headers: () => ({}), status: 401 },
    { name: 'command with ?token=', method: 'POST', path: (a) => `/api/ca/rotate?token=${a.token}`, headers: () => ({}), status: 401 },
    { name: 'page with ?token= but a wrong Bearer (the header alone decides)', path: (a) => `/?token=${a.token}`, headers: () => ({ authorization: 'Bearer 0123456789abcdef0123456789abcdef' }), status: 401 },
    { name: 'page without a token', path: () => '/', headers: () => ({}), status: 401 },
    { name: 'page with a wrong ?token=', path: () => '/?token=0123456789abcdef0123456789abcdef', headers: () => ({}), status: 401 },
    { name: 'command without a token', method: 'POST', path: () => '/api/ca/rotate', headers: () => ({}), status: 401 },
    { name: 'unknown route without a token is 401, not 404', path: () => '/api/nope', headers: () => ({}), status: 401 },
    { name: 'right Bearer token', path: () => '/api/state', headers: bearer, status: 200 },
    { name: 'right Bearer token, scheme in lower case', path: () => '/api/state', headers: (a) => ({ authorization: `bearer ${a.token}` }), status: 200 },
  ];
  it.each(rows)('$name → $status', async (row) => {
    const { api, mesh } = await start();
    const r = await http(api.port, row.path(api), { method: row.method ?? 'GET', headers: row.headers(api) });
    expect(r.status).toBe(row.status);
    expect(r.headers['set-cookie']).toBeUndefined();
    const body = json(r);
    if (row.status === 401) {
      expect(body).toMatchObject({ error: 'unauthorized' });
      expect(body['message']).toMatch(/^control API: .+\.$/);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(mesh.executed).toEqual([]);
    } else {
      expect(body['trustDomain']).toBe('lab.local');
    }
  });

  it('a token given as an option is used, and a weak one is refused', async () => {
    const { api } = await start({ token: 'a-fixed-token-for-tests' });
    expect(api.token).toBe('a-fixed-token-for-tests');
    expect(api.dashboardUrl).toBe(`http://127.0.0.1:${api.port}/?token=a-fixed-token-for-tests`);
    await expect(startControlApi({ controller: new FakeMesh(), token: 'short' })).rejects.toMatchObject({ code: 'bad-token' });
    const { api: other } = await start();
    expect(other.token).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('control API: the page', () => {
  it('?token= loads the page (every time: a reload keeps the address) and sets no cookie; a cookie never authorizes', async () => {
    const { api, mesh } = await start();
    for (let i = 0; i < 2; i++) {
      const r = await http(api.port, `/?token=${api.token}`);
      expect(r.status).toBe(200);
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    const byBearer = await http(api.port, '/', { headers: bearer(api) });
    expect(byBearer.status).toBe(200);
    expect(byBearer.headers['set-cookie']).toBeUndefined();

    const cookie = replayedCookie(api);
    expect((await http(api.port, '/', { headers: { cookie } })).status).toBe(401);
    expect((await http(api.port, '/api/state', { headers: { cookie } })).status).toBe(401);
    const post = await http(api.port, '/api/rotate', { method: 'POST', headers: { cookie, origin: `http://127.0.0.1:${api.port}` }, body: '{"service":"orders"}' });
    expect(post.status).toBe(401);
    expect(post.headers['set-cookie']).toBeUndefined();
    expect(mesh.executed).toEqual([]);
  });

  it('the default page keeps the token in its address and offers it to the WebSocket as the bearer subprotocol', async () => {
    const { api } = await start();
    const r = await http(api.port, `/?token=${api.token}`);
    expect(r.text).toContain("'mtls-lab.bearer.' + token");
    expect(r.text).toMatch(/new WebSocket\([^;]+, protocols\)/);
    expect(r.text).not.toContain('replaceState');
    expect(r.text).not.toContain(api.token);
  });

  it('has a strict CSP whose fresh nonce matches its script and style tags', async () => {
    const { api } = await start();
    const nonces: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await http(api.port, `/?token=${api.token}`);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['referrer-policy']).toBe('no-referrer');
      expect(r.headers['cache-control']).toBe('no-store');
      const csp = r.headers['content-security-policy'] as string;
      const nonce = /script-src 'nonce-([A-Za-z0-9+/=]{16,})'/.exec(csp)?.[1] as string;
      expect(nonce).toBeDefined();
      const p = api.port;
      expect(csp).toBe(
        `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'self' 'nonce-${nonce}'; img-src 'self' data:; ` +
          `connect-src 'self' ws://127.0.0.1:${p} ws://localhost:${p}; base-uri 'none'; frame-ancestors 'none'; form-action 'none'`,
      );
      const scripts = [...r.text.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
      const styles = [...r.text.matchAll(/<style\b([^>]*)>/g)].map((m) => m[1]);
      expect(scripts).toEqual([` nonce="${nonce}"`]);
      expect(styles).toEqual([` nonce="${nonce}"`]);
      // No inline handlers, no remote content.
      expect(r.text).not.toMatch(/\son[a-z]+\s*=/i);
      expect(r.text).not.toMatch(/(src|href)\s*=\s*"(https?:)?\/\//i);
      nonces.push(nonce);
    }
    expect(nonces[0]).not.toBe(nonces[1]);
  });

  it('serves a custom page, given the token for its asset URLs, and assets, each behind the token', async () => {
    const { api } = await start({
      page: (nonce, token) => `<!doctype html><script nonce="${nonce}" src="/app.js?token=${token}"></script>`,
      assets: { '/app.js': { type: 'text/javascript; charset=utf-8', body: 'console.log(1);' } },
    });
    const page = await http(api.port, `/?token=${api.token}`);
    const nonce = /'nonce-([^']+)'/.exec(page.headers['content-security-policy'] as string)?.[1];
    expect(page.text).toBe(`<!doctype html><script nonce="${nonce}" src="/app.js?token=${api.token}"></script>`);
    const asset = await http(api.port, `/app.js?token=${api.token}`);
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.headers['x-content-type-options']).toBe('nosniff');
    expect(asset.headers['set-cookie']).toBeUndefined();
    expect(asset.text).toBe('console.log(1);');
    expect((await http(api.port, '/app.js', { headers: bearer(api) })).status).toBe(200);
  });

  interface AssetRow {
    readonly name: string;
    readonly method?: string;
    readonly path: (api: ControlApi) => string;
    readonly headers?: (api: ControlApi) => Record<string, string>;
    readonly status: number;
  }
  const assetRows: readonly AssetRow[] = [
    { name: 'no token', path: () => '/app.js', status: 401 },
    { name: 'a wrong ?token=', path: () => '/app.js?token=0123456789abcdef0123456789abcdef', status: 401 },
    { name: 'an empty ?token=', path: () => '/app.js?token=', status: 401 },
    { name: 'a replayed cookie', path: () => '/app.js', headers: (a) => ({ cookie: replayedCookie(a) }), status: 401 },
    { name: 'a foreign Host with the right ?token=', path: (a) => `/app.js?token=${a.token}`, headers: (a) => ({ host: `evil.example:${a.port}` }), status: 421 },
    { name: 'POST with the right ?token=', method: 'POST', path: (a) => `/app.js?token=${a.token}`, status: 401 },
    { name: 'POST with a Bearer', method: 'POST', path: () => '/app.js', headers: bearer, status: 405 },
    { name: 'the right ?token=', path: (a) => `/app.js?token=${a.token}`, status: 200 },
  ];
  it.each(assetRows)('an asset with $name → $status', async (row) => {
    const { api } = await start({ assets: { '/app.js': { type: 'text/javascript; charset=utf-8', body: 'console.log(1);' } } });
    const r = await http(api.port, row.path(api), { method: row.method ?? 'GET', headers: row.headers?.(api) ?? {} });
    expect(r.status).toBe(row.status);
    expect(r.headers['set-cookie']).toBeUndefined();
    if (row.status === 200) expect(r.text).toBe('console.log(1);');
    else expect(json(r)['message']).toMatch(/^control API: /);
  });
});

describe('control API: Host and Origin', () => {
  interface Row {
    readonly name: string;
    readonly host?: (port: number) => string;
    readonly origin?: (port: number) => string;
    readonly status: number;
    readonly error?: string;
  }
  const rows: readonly Row[] = [
    { name: 'Host 127.0.0.1:PORT', status: 200 },
    { name: 'Host localhost:PORT', host: (p) => `localhost:${p}`, status: 200 },
    { name: 'Host LOCALHOST:PORT (names are case-insensitive)', host: (p) => `LOCALHOST:${p}`, status: 200 },
    { name: 'foreign Host (DNS rebinding)', host: (p) => `evil.example:${p}`, status: 421, error: 'bad-host' },
    { name: 'Host without the port', host: () => 'localhost', status: 421, error: 'bad-host' },
    { name: 'Host with another port', host: (p) => `127.0.0.1:${p + 1}`, status: 421, error: 'bad-host' },
    { name: 'Host [::1]:PORT (the API listens on 127.0.0.1 only)', host: (p) => `[::1]:${p}`, status: 421, error: 'bad-host' },
    { name: 'same Origin', origin: (p) => `http://127.0.0.1:${p}`, status: 200 },
    { name: 'same Origin by name', origin: (p) => `http://localhost:${p}`, status: 200 },
    { name: 'foreign Origin', origin: () => 'http://evil.example', status: 403, error: 'bad-origin' },
    { name: 'opaque Origin "null"', origin: () => 'null', status: 403, error: 'bad-origin' },
    { name: 'https Origin on the same port', origin: (p) => `https://127.0.0.1:${p}`, status: 403, error: 'bad-origin' },
    { name: 'Origin of another local port', origin: (p) => `http://127.0.0.1:${p + 1}`, status: 403, error: 'bad-origin' },
  ];
  it.each(rows)('POST with $name → $status', async (row) => {
    const { api, mesh } = await start();
    const headers: Record<string, string> = { ...bearer(api) };
    if (row.host) headers['host'] = row.host(api.port);
    if (row.origin) headers['origin'] = row.origin(api.port);
    const r = await http(api.port, '/api/ca/rotate', { method: 'POST', headers, body: '{}' });
    expect(r.status).toBe(row.status);
    if (row.error) {
      expect(json(r)).toMatchObject({ error: row.error });
      expect(mesh.executed).toEqual([]);
    } else {
      expect(json(r)).toEqual({ ok: true });
      expect(mesh.executed).toEqual([{ name: 'ca/rotate' }]);
    }
  });

  it('refuses a foreign Host even on GET with the token', async () => {
    const { api } = await start();
    const r = await http(api.port, '/api/state', { headers: { ...bearer(api), host: `attacker.example:${api.port}` } });
    expect(r.status).toBe(421);
    expect(json(r)['message']).toMatch(/^control API: the Host header must be 127\.0\.0\.1:\d+ or localhost:\d+/);
  });
});

describe('control API: WebSocket admission', () => {
  const WRONG = '0123456789abcdef0123456789abcdef';
  type Auth = 'bearer' | 'protocol' | 'cookie' | 'none' | 'wrong' | 'wrong-protocol' | 'query' | 'query-protocol' | 'wrong-bearer-right-protocol' | 'protocols';
  interface Row {
    readonly name: string;
    readonly auth: Auth;
    readonly origin?: (port: number) => string;
    readonly host?: (port: number) => string;
    readonly path?: string;
    readonly status?: number;
  }
  const same = (p: number): string => `http://127.0.0.1:${p}`;
  const rows: readonly Row[] = [
    { name: 'no Origin + Bearer (the extension host)', auth: 'bearer' },
    { name: 'same Origin + bearer subprotocol (the dashboard)', auth: 'protocol', origin: same },
    { name: 'same Origin by name + bearer subprotocol', auth: 'protocol', origin: (p) => `http://localhost:${p}`, host: (p) => `localhost:${p}` },
    { name: 'same Origin + the bearer subprotocol among others', auth: 'protocols', origin: same },
    { name: 'same Origin + wrong bearer subprotocol', auth: 'wrong-protocol', origin: same, status: 401 },
    { name: 'same Origin + a replayed cookie', auth: 'cookie', origin: same, status: 401 },
    { name: 'same Origin + ?token= in the URL', auth: 'query', origin: same, status: 401 },
    { name: 'same Origin + the subprotocol prefix with ?token= in the URL', auth: 'query-protocol', origin: same, status: 401 },
    { name: 'wrong Bearer + right subprotocol (the header alone decides)', auth: 'wrong-bearer-right-protocol', origin: same, status: 401 },
    { name: 'foreign Origin + bearer subprotocol', auth: 'protocol', origin: () => 'http://evil.example', status: 403 },
    { name: 'Origin of another local port + bearer subprotocol', auth: 'protocol', origin: (p) => `http://127.0.0.1:${p + 1}`, status: 403 },
    { name: 'foreign Origin + a replayed cookie', auth: 'cookie', origin: () => 'http://evil.example', status: 403 },
    { name: 'foreign Origin + Bearer', auth: 'bearer', origin: () => 'http://evil.example', status: 403 },
    { name: 'foreign Host + Bearer', auth: 'bearer', host: (p) => `evil.example:${p}`, status: 421 },
    { name: 'foreign Host + bearer subprotocol', auth: 'protocol', origin: same, host: (p) => `evil.example:${p}`, status: 421 },
    { name: 'no credentials', auth: 'none', status: 401 },
    { name: 'wrong Bearer', auth: 'wrong', status: 401 },
    { name: '?token= in the URL', auth: 'query', status: 401 },
    { name: 'another path', auth: 'bearer', path: '/api/state', status: 404 },
    { name: 'another path + bearer subprotocol', auth: 'protocol', origin: same, path: '/api/state', status: 404 },
  ];
  it.each(rows)('$name → $status', async (row) => {
    const { api } = await start();
    const headers: Record<string, string> = {};
    let protocols: string[] = [];
    if (row.auth === 'bearer') Object.assign(headers, bearer(api));
    if (row.auth === 'wrong' || row.auth === 'wrong-bearer-right-protocol') headers['authorization'] = `Bearer ${WRONG}`;
    if (row.auth === 'protocol' || row.auth === 'wrong-bearer-right-protocol') protocols = [bearerProtocol(api.token)];
    if (row.auth === 'protocols') protocols = ['chat', bearerProtocol(WRONG), bearerProtocol(api.token)];
    if (row.auth === 'wrong-protocol') protocols = [bearerProtocol(WRONG)];
    if (row.auth === 'query-protocol') protocols = [bearerProtocol('')];
    if (row.auth === 'cookie') headers['cookie'] = replayedCookie(api);
    if (row.host) headers['host'] = row.host(api.port);
    const path = row.auth === 'query' || row.auth === 'query-protocol' ? `/api/events?token=${api.token}` : row.path;
    const outcome = await connectWs(api.port, {
      headers,
      protocols,
      ...(path ? { path } : {}),
      ...(row.origin ? { origin: row.origin(api.port) } : {}),
    });
    expect(outcome.headers['set-cookie']).toBeUndefined();
    if (row.status === undefined) {
      expect('client' in outcome).toBe(true);
      if (!('client' in outcome)) return;
      // The page's subprotocol is echoed (a browser drops the handshake otherwise); nothing is chosen for a Bearer.
      const echoed = protocols.length === 0 ? '' : bearerProtocol(api.token);
      expect(outcome.client.ws.protocol).toBe(echoed);
      expect(outcome.headers['sec-websocket-protocol']).toBe(echoed === '' ? undefined : echoed);
      await outcome.client.until(() => outcome.client.messages.length > 0, 'the snapshot');
      expect(outcome.client.messages[0]?.type).toBe('mesh/snapshot');
    } else {
      expect(outcome).toMatchObject({ status: row.status });
      if ('body' in outcome) expect(JSON.parse(outcome.body)).toMatchObject({ message: expect.stringMatching(/^control API: /) });
    }
  });
});

describe('control API: the event stream', () => {
  it('sends the snapshot first, then 2,000 quick events in order, in a few batched frames', async () => {
    const { api, mesh } = await start();
    mesh.emitCall(0); // before the client: in no snapshot's future, never sent to it
    const client = await connected(api.port, { headers: bearer(api) });
    expect(client.messages).toHaveLength(1);
    expect(client.messages[0]).toMatchObject({ type: 'mesh/snapshot', snapshot: { trustDomain: 'lab.local' } });

    const emitted: number[] = [];
    for (let i = 1; i <= 2000; i++) emitted.push(mesh.emitCall(i).seq);
    await client.until(() => client.events().length >= 2000, '2,000 events');
    expect(client.events().map((e) => e.seq)).toEqual(emitted);
    const eventFrames = client.messages.slice(1);
    expect(eventFrames.every((m) => m.type === 'mesh/events')).toBe(true);
    expect(eventFrames.length).toBeLessThanOrEqual(4);
  });

  it('batches a steady trickle instead of sending a frame per event', async () => {
    const { api, mesh } = await start();
    const client = await connected(api.port, { headers: bearer(api) });
    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      mesh.emitCall(i);
      await new Promise((r) => setTimeout(r, 5));
    }
    await client.until(() => client.events().length >= 40, '40 events');
    const elapsed = Date.now() - started;
    const frames = client.messages.length - 1;
    // At most one frame per ~50 ms window (plus the leading one), far fewer than 40.
    expect(frames).toBeLessThanOrEqual(Math.ceil(elapsed / 50) + 2);
    expect(frames).toBeLessThan(20);
  });

  it('re-sends the snapshot on "ready" and answers commands with replies', async () => {
    const { api, mesh } = await start();
    const client = await connected(api.port, { headers: bearer(api) });
    client.ws.send(JSON.stringify({ type: 'ready' }));
    await client.until(() => client.messages.length >= 2, 'the second snapshot');
    expect(client.messages[1]?.type).toBe('mesh/snapshot');

    interface Row {
      readonly name: string;
      readonly message: unknown;
      readonly reply: Record<string, unknown>;
    }
    const rows: readonly Row[] = [
      { name: 'rotate one service', message: { type: 'command', id: 1, command: { name: 'rotate', service: 'orders' } }, reply: { id: 1, ok: true, result: { rotated: ['orders'] } } },
      { name: 'command without a result', message: { type: 'command', id: 2, command: { name: 'ca/rotate' } }, reply: { id: 2, ok: true } },
      { name: 'unknown service', message: { type: 'command', id: 3, command: { name: 'rotate', service: 'nope' } }, reply: { id: 3, ok: false, code: 'unknown-service' } },
      { name: 'bad scenario', message: { type: 'command', id: 4, command: { name: 'attack', scenario: 'ddos' } }, reply: { id: 4, ok: false, code: 'bad-request' } },
      { name: 'controller bug', message: { type: 'command', id: 5, command: { name: 'attack', scenario: 'plaintext', target: 'crash' } }, reply: { id: 5, ok: false, code: 'internal' } },
    ];
    for (const row of rows) {
      const before = client.messages.length;
      client.ws.send(JSON.stringify(row.message));
      await client.until(() => client.messages.length > before, `the reply to ${row.name}`);
      const reply = client.messages[before];
      expect(reply, row.name).toMatchObject({ type: 'reply', ...row.reply });
      if (reply?.type === 'reply' && !reply.ok) expect(reply.error, row.name).toMatch(/^[a-z ]+: .+\.$/i);
    }
    expect(mesh.executed).toHaveLength(4);
  });

  it('closes a connection that sends something other than protocol JSON', async () => {
    const { api } = await start();
    const client = await connected(api.port, { headers: bearer(api) });
    const closed = new Promise<number>((resolve) => client.ws.once('close', (code: number) => resolve(code)));
    client.ws.send('not json');
    expect(await closed).toBe(1007);
  });

  it('drops a client that stops reading to a fresh snapshot instead of queueing without bound', async () => {
    const limit = 64 * 1024;
    const { api, mesh } = await start({ maxBufferedBytes: limit });
    const client = await connected(api.port, { headers: bearer(api) });
    client.ws.pause();
    const detail = 'x'.repeat(1000);
    let emitted = 0;
    // Enough to fill the kernel's socket buffers many times over, in several flush windows.
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 1000; i++) {
        mesh.bus.emit({ type: 'attack', scenario: 'plaintext', target: 'billing', rejected: true, detail });
        emitted++;
      }
      await new Promise((r) => setTimeout(r, 60));
    }
    client.ws.resume();
    await client.until(() => client.messages.filter((m) => m.type === 'mesh/snapshot').length >= 2, 'the catch-up snapshot');
    const received = client.events().length;
    expect(received).toBeLessThan(emitted);
    // After the catch-up snapshot the stream resumes with new events.
    const last = mesh.emitCall(1);
    await client.until(() => client.events().some((e) => e.seq === last.seq), 'the event after the catch-up');
    const lastSnapshot = client.messages.map((m) => m.type).lastIndexOf('mesh/snapshot');
    const afterSnapshot = client.messages.slice(lastSnapshot + 1);
    expect(afterSnapshot.flatMap((m) => (m.type === 'mesh/event' ? [m.event.seq] : m.type === 'mesh/events' ? m.events.map((e) => e.seq) : []))).toEqual([last.seq]);
  });

  it('close() ends open WebSockets with 1001 and stops listening', async () => {
    const { api } = await start();
    const client = await connected(api.port, { headers: bearer(api) });
    const closed = new Promise<number>((resolve) => client.ws.once('close', (code: number) => resolve(code)));
    await api.close();
    expect(await closed).toBe(1001);
    await expect(http(api.port, '/api/state', { headers: bearer(api) })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('control API: commands over POST', () => {
  interface Row {
    readonly name: string;
    readonly method?: string;
    readonly path: string;
    readonly body?: string;
    readonly status: number;
    readonly command?: MeshCommand;
    readonly reply: Record<string, unknown>;
    readonly message?: RegExp;
  }
  const rows: readonly Row[] = [
    { name: 'rotate every service (empty body)', path: '/api/rotate', status: 200, command: { name: 'rotate' }, reply: { rotated: ['orders', 'billing'] } },
    { name: 'rotate one service', path: '/api/rotate', body: '{"service":"orders"}', status: 200, command: { name: 'rotate', service: 'orders' }, reply: { rotated: ['orders'] } },
    { name: 'rotate an unknown service', path: '/api/rotate', body: '{"service":"nope"}', status: 404, command: { name: 'rotate', service: 'nope' }, reply: { error: 'unknown-service' }, message: /^mesh: there is no service "nope"/ },
    { name: 'rotate the CA', path: '/api/ca/rotate', body: '{}', status: 200, command: { name: 'ca/rotate' }, reply: { ok: true } },
    { name: 'attack', path: '/api/attack', body: '{"scenario":"rogue-ca","target":"billing"}', status: 200, command: { name: 'attack', scenario: 'rogue-ca', target: 'billing' }, reply: { scenario: 'rogue-ca', rejected: true, reason: 'unknown-ca' } },
    { name: 'attack while another runs', path: '/api/attack', body: '{"scenario":"plaintext","target":"busy"}', status: 409, command: { name: 'attack', scenario: 'plaintext', target: 'busy' }, reply: { error: 'busy' }, message: /^attacks: another attack is running/ },
    { name: 'controller error without a code', path: '/api/attack', body: '{"scenario":"plaintext","target":"crash"}', status: 500, command: { name: 'attack', scenario: 'plaintext', target: 'crash' }, reply: { error: 'internal' }, message: /^control API: the command failed unexpectedly: the attack harness fell over\.$/ },
    { name: 'allow a call', path: '/api/policy/allow', body: '{"from":"frontend","to":"orders"}', status: 200, command: { name: 'policy/allow', from: 'frontend', to: 'orders' }, reply: { rule: 'frontend-to-orders' } },
    { name: 'remove a rule', path: '/api/policy/remove', body: '{"rule":"orders-to-billing"}', status: 200, command: { name: 'policy/remove', rule: 'orders-to-billing' }, reply: { removed: 'orders-to-billing' } },
    { name: 'remove an unknown rule', path: '/api/policy/remove', body: '{"rule":"nope"}', status: 404, command: { name: 'policy/remove', rule: 'nope' }, reply: { error: 'unknown-rule' }, message: /^policy: there is no rule "nope"\.$/ },
    { name: 'unknown scenario', path: '/api/attack', body: '{"scenario":"ddos"}', status: 400, reply: { error: 'bad-request' }, message: /"scenario" must be one of impostor-no-cert, rogue-ca, expired-replay, unauthorized, plaintext/ },
    { name: 'missing field', path: '/api/policy/allow', body: '{"from":"orders"}', status: 400, reply: { error: 'bad-request' }, message: /needs "to"/ },
    { name: 'a typo in a field name', path: '/api/rotate', body: '{"servce":"orders"}', status: 400, reply: { error: 'bad-request' }, message: /does not take "servce"/ },
    { name: 'a field of the wrong type', path: '/api/rotate', body: '{"service":7}', status: 400, reply: { error: 'bad-request' }, message: /"service" .* must be a non-empty string/ },
    { name: 'a body naming another command', path: '/api/rotate', body: '{"name":"ca/rotate"}', status: 400, reply: { error: 'bad-request' }, message: /must not name the command/ },
    { name: 'bad JSON', path: '/api/rotate', body: '{"service":', status: 400, reply: { error: 'bad-json' }, message: /^control API: the body of POST \/api\/rotate is not valid JSON \(.+\)\.$/ },
    { name: 'a JSON array', path: '/api/attack', body: '["rogue-ca"]', status: 400, reply: { error: 'bad-json' }, message: /must be a JSON object, not an array/ },
    { name: 'GET on a command route', method: 'GET', path: '/api/rotate', status: 405, reply: { error: 'method-not-allowed' } },
    { name: 'POST on the state route', path: '/api/state', status: 405, reply: { error: 'method-not-allowed' } },
    { name: 'plain GET on the WebSocket route', method: 'GET', path: '/api/events', status: 426, reply: { error: 'upgrade-required' } },
    { name: 'unknown route', path: '/api/nope', status: 404, reply: { error: 'not-found' } },
  ];
  it.each(rows)('$name → $status', async (row) => {
    const { api, mesh } = await start();
    const r = await http(api.port, row.path, { method: row.method ?? 'POST', headers: bearer(api), ...(row.body === undefined ? {} : { body: row.body }) });
    expect(r.status).toBe(row.status);
    const body = json(r);
    expect(body).toMatchObject(row.reply);
    if (row.status >= 400) expect(body['message']).toMatch(row.message ?? /^control API: .+\.$/);
    expect(mesh.executed).toEqual(row.command ? [row.command] : []);
  });

  interface SizeRow {
    readonly name: string;
    readonly bytes: number;
    readonly status: number;
  }
  const sizes: readonly SizeRow[] = [
    { name: 'exactly 64 KiB', bytes: 64 * 1024, status: 200 },
    { name: 'one byte over 64 KiB', bytes: 64 * 1024 + 1, status: 413 },
    { name: 'half a megabyte', bytes: 512 * 1024, status: 413 },
  ];
  it.each(sizes)('a body of $name → $status', async (row) => {
    const { api, mesh } = await start();
    const head = '{"service":"orders"}';
    const r = await http(api.port, '/api/rotate', { method: 'POST', headers: bearer(api), body: head + ' '.repeat(row.bytes - head.length) });
    expect(r.status).toBe(row.status);
    if (row.status === 413) {
      expect(json(r)).toMatchObject({ error: 'body-too-large' });
      expect(mesh.executed).toEqual([]);
    } else {
      expect(mesh.executed).toEqual([{ name: 'rotate', service: 'orders' }]);
    }
  });
});

describe('daemon.json', () => {
  function stateDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'mtls-lab-daemon-'));
    dirs.push(dir);
    return join(dir, 'state');
  }

  function info(dir: string, pid: number): DaemonInfo {
    return { pid, port: 4242, token: 'f'.repeat(64), dashboardUrl: `http://127.0.0.1:4242/?token=${'f'.repeat(64)}`, startedAt: '2030-01-01T00:00:00.000Z', stateDir: dir };
  }

  /** The pid of a process that has exited and been reaped. */
  function deadPid(): number {
    const child = spawnSync(process.execPath, ['-e', '']);
    expect(child.status).toBe(0);
    return child.pid;
  }

  it('is written atomically with mode 0600 and read back while its process lives', () => {
    const dir = stateDir();
    const written = { ...info(dir, process.pid), entryUrl: 'http://127.0.0.1:4243/' };
    writeDaemonFile(written);
    const path = join(dir, DAEMON_FILE_NAME);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readDaemonFile(dir)).toEqual(written);
  });

  function overwrite(dir: string, text: string): void {
    writeDaemonFile(info(dir, process.pid));
    writeFileSync(join(dir, DAEMON_FILE_NAME), text);
  }

  interface ReadRow {
    readonly name: string;
    readonly setup: (dir: string) => void;
    readonly expected: 'undefined' | 'info' | 'bad-daemon-file';
  }
  const reads: readonly ReadRow[] = [
    { name: 'absent', setup: () => undefined, expected: 'undefined' },
    { name: 'stale: its pid has exited', setup: (dir) => writeDaemonFile(info(dir, deadPid())), expected: 'undefined' },
    { name: 'another live process (the parent)', setup: (dir) => writeDaemonFile(info(dir, process.ppid)), expected: 'info' },
    { name: 'not JSON', setup: (dir) => overwrite(dir, '{"pid":'), expected: 'bad-daemon-file' },
    { name: 'JSON without a token', setup: (dir) => overwrite(dir, '{"pid":1,"port":2}'), expected: 'bad-daemon-file' },
  ];
  it.each(reads)('reading when $name', (row) => {
    const dir = stateDir();
    row.setup(dir);
    if (row.expected === 'bad-daemon-file') {
      let thrown: unknown;
      try {
        readDaemonFile(dir);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(DaemonError);
      expect(thrown).toMatchObject({ code: 'bad-daemon-file', message: expect.stringMatching(/^daemon: .+daemon\.json .+\.$/) });
    } else if (row.expected === 'undefined') {
      expect(readDaemonFile(dir)).toBeUndefined();
    } else {
      expect(readDaemonFile(dir)).toMatchObject({ port: 4242 });
    }
  });

  it('is removed on a clean stop only when it is still ours', () => {
    const dir = stateDir();
    const path = join(dir, DAEMON_FILE_NAME);
    writeDaemonFile(info(dir, process.ppid));
    expect(removeDaemonFile(dir)).toBe(false); // another daemon's file stays
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.ppid });
    writeDaemonFile(info(dir, process.pid));
    expect(removeDaemonFile(dir)).toBe(true);
    expect(readDaemonFile(dir)).toBeUndefined();
    expect(removeDaemonFile(dir)).toBe(false);
  });
});
