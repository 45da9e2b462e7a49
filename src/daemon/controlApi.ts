// The daemon's control API: HTTP + WebSocket on 127.0.0.1, for the CLI, the VS Code extension and
// the browser dashboard. Every request must name the right Host (no DNS rebinding), carry no
// foreign Origin (no cross-site requests), and prove the token: as a Bearer; as `?token=` on the
// page and its static assets only; or, for the page's WebSocket, as the subprotocol
// `mtls-lab.bearer.TOKEN`. No cookie: browsers send cookies to every port of 127.0.0.1, so any
// local server could collect one and replay it here.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import type { MeshEvent } from '../core/events/types.js';
import { checkMeshCommand, isClientMessage } from '../protocol/messages.js';
import { BEARER_PROTOCOL_PREFIX } from '../protocol/messages.js';
import type { CommandReply, MeshCommand, MeshCommandName, ServerMessage } from '../protocol/messages.js';
import type { MeshSnapshot } from '../protocol/snapshot.js';
import { defaultPage } from './defaultPage.js';
import { DaemonError } from './errors.js';

/** What the control API drives. The mesh implements it; tests use a small in-memory one. */
export interface MeshController {
  snapshot(): MeshSnapshot;
  /** Subscribes to every event, in order; returns the unsubscribe function. */
  onEvent(listener: (event: MeshEvent) => void): () => void;
  /** Runs a command. Failures throw an Error with a string `code` and a sentence (see describeCommandError). */
  execute(command: MeshCommand): Promise<unknown>;
}

export interface StaticAsset {
  /** The Content-Type, e.g. `text/javascript; charset=utf-8`. */
  readonly type: string;
  readonly body: string | Uint8Array;
}

export interface ControlApiOptions {
  readonly controller: MeshController;
  /** 0 (the default) lets the system pick a free port. */
  readonly port?: number;
  /** Default: 32 random bytes, hex. At least 16 characters of A–Z a–z 0–9 `-._~`. */
  readonly token?: string;
  /**
   * The HTML for GET /; its scripts and styles must carry `nonce="<nonce>"`, and its assets must be
   * referenced with `?token=<token>` (the page is served only to a request that carries the token).
   * Default: a minimal dashboard.
   */
  readonly page?: (nonce: string, token: string) => string;
  /** Extra files served by GET at their key, e.g. `{'/webview.js': {type, body}}`; they need the token like every route (Bearer or `?token=`). */
  readonly assets?: Readonly<Record<string, StaticAsset>>;
  /** A WebSocket client whose unsent bytes exceed this stops getting events and gets a fresh snapshot once it drains. Default 4 MiB. */
  readonly maxBufferedBytes?: number;
}

export interface ControlApi {
  readonly port: number;
  readonly token: string;
  /** `http://127.0.0.1:PORT/?token=TOKEN`: the page keeps the token in its address and offers it to the WebSocket as a subprotocol. */
  readonly dashboardUrl: string;
  /** Stops listening, closes every WebSocket (1001) and HTTP connection, and unsubscribes from the controller. */
  close(): Promise<void>;
}

/** The JSON body of every error response. */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
}

export const MAX_BODY_BYTES = 64 * 1024;
/** Events are sent at most this often per connection; a burst in between goes out as one batch. */
export const EVENT_BATCH_INTERVAL_MS = 50;
/** Events per frame, so a huge burst is several modest frames rather than one enormous one. */
export const MAX_EVENTS_PER_FRAME = 1000;
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** A client that has not drained its backlog for this long is disconnected. */
const LAGGING_GIVE_UP_MS = 60_000;
const LAG_CHECK_MS = 100;
/** How much of an oversized body is read and discarded so the 413 reaches the client intact. */
const MAX_DISCARD_BYTES = 1024 * 1024;

const EVENTS_PATH = '/api/events';
const POST_ROUTES: Readonly<Record<string, MeshCommandName>> = {
  '/api/rotate': 'rotate',
  '/api/ca/rotate': 'ca/rotate',
  '/api/attack': 'attack',
  '/api/policy/allow': 'policy/allow',
  '/api/policy/remove': 'policy/remove',
};
const TOKEN_PATTERN = /^[A-Za-z0-9._~-]{16,256}$/;
/**
 * How a browser page proves the token on the WebSocket (it cannot set headers there): it offers the
 * subprotocol `mtls-lab.bearer.TOKEN`, which the handshake echoes. webview/transport.ts says the same.
 */
export { BEARER_PROTOCOL_PREFIX };

/** The page's Content-Security-Policy: scripts only by nonce, no remote content, WebSocket back to this daemon only. */
export function contentSecurityPolicy(nonce: string, port: number): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data:",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ');
}

const CODE_STATUS: Readonly<Record<string, number>> = {
  busy: 409,
  conflict: 409,
  'in-progress': 409,
  'not-ready': 503,
  stopping: 503,
  unavailable: 503,
  'not-found': 404,
};

/**
 * Maps an error thrown by `MeshController.execute` to an HTTP status and a JSON body:
 * a numeric `status` (400–599) on the error wins; else by its `code`: `unknown-*`, `no-such-*`,
 * `not-found` → 404; `bad-*`, `invalid-*` → 400; `busy`, `conflict`, `in-progress`, `already-*`
 * → 409; `not-ready`, `stopping`, `unavailable` → 503; any other code → 422 (understood, refused).
 * An error without a code is a bug: 500 `internal`.
 */
export function describeCommandError(err: unknown): { readonly status: number; readonly body: ErrorBody } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; status?: unknown; message?: unknown };
  const message = typeof e.message === 'string' && e.message.length > 0 ? e.message : String(err);
  const code = typeof e.code === 'string' && e.code.length > 0 ? e.code : undefined;
  if (code === undefined) {
    const sentence = /[.!?]$/.test(message) ? message : `${message}.`;
    return { status: 500, body: { error: 'internal', message: `control API: the command failed unexpectedly: ${sentence}` } };
  }
  let status = CODE_STATUS[code];
  if (typeof e.status === 'number' && Number.isInteger(e.status) && e.status >= 400 && e.status <= 599) status = e.status;
  else if (status === undefined) {
    if (/^(unknown-|no-such-)/.test(code)) status = 404;
    else if (/^(bad-|invalid-)/.test(code)) status = 400;
    else if (code.startsWith('already-')) status = 409;
    else status = 422;
  }
  return { status, body: { error: code, message } };
}

/** An HTTP answer decided before the route runs. */
class Refusal {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {}
}

interface Client {
  readonly ws: WebSocket;
  /** Index (in the order received) of the first event this client has not seen in a snapshot. */
  from: number;
  lagging: boolean;
  laggingSince: number;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time equality that leaks neither content nor length. */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The subprotocols a WebSocket handshake offers, in order (ws itself refuses a malformed header later). */
function offeredProtocols(header: string | string[] | undefined): string[] {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value === undefined) return [];
  return value.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
}

const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendRefusal(res: ServerResponse, r: Refusal): void {
  sendJson(res, r.status, { error: r.code, message: r.message } satisfies ErrorBody, r.headers);
}

/** Answers an upgrade request that will not become a WebSocket, over the raw socket. */
function refuseUpgrade(socket: Duplex, r: Refusal): void {
  const text = JSON.stringify({ error: r.code, message: r.message } satisfies ErrorBody);
  const extra = Object.entries(r.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      extra +
      '\r\n' +
      text,
  );
}

type BodyResult = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly refusal: Refusal };

function tooLarge(path: string): Refusal {
  return new Refusal(413, 'body-too-large', `control API: the body of POST ${path} is larger than ${MAX_BODY_BYTES} bytes; commands are small JSON objects.`);
}

/** Reads a body of at most MAX_BODY_BYTES. An oversized one is read on and discarded (up to a bound) so the 413 arrives intact. */
function readBody(req: IncomingMessage, path: string): Promise<BodyResult> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES + MAX_DISCARD_BYTES) {
      req.destroy();
      resolve({ ok: false, refusal: tooLarge(path) });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES + MAX_DISCARD_BYTES) {
        req.destroy();
        resolve({ ok: false, refusal: tooLarge(path) });
        return;
      }
      if (size > MAX_BODY_BYTES) over = true;
      if (!over) chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? { ok: false, refusal: tooLarge(path) } : { ok: true, body: Buffer.concat(chunks) }));
    req.on('error', () => resolve({ ok: false, refusal: new Refusal(400, 'bad-request', `control API: the body of POST ${path} could not be read.`) }));
  });
}

function parseCommandBody(name: MeshCommandName, path: string, raw: Buffer): { command: MeshCommand } | Refusal {
  const text = raw.toString('utf8');
  let value: unknown = {};
  if (text.trim().length > 0) {
    try {
      value = JSON.parse(text);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return new Refusal(400, 'bad-json', `control API: the body of POST ${path} is not valid JSON (${why}).`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
    return new Refusal(400, 'bad-json', `control API: the body of POST ${path} must be a JSON object, not ${got}.`);
  }
  if (Object.prototype.hasOwnProperty.call(value, 'name')) {
    return new Refusal(400, 'bad-request', `control API: the body of POST ${path} must not name the command; the path does.`);
  }
  const check = checkMeshCommand({ ...(value as Record<string, unknown>), name });
  if (!check.ok) return new Refusal(400, 'bad-request', `control API: POST ${path}: ${check.problem}.`);
  return { command: check.command };
}

class ControlApiServer implements ControlApi {
  readonly dashboardUrl: string;
  private readonly allowedHosts: ReadonlySet<string>;
  private readonly allowedOrigins: ReadonlySet<string>;
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_BODY_BYTES,
    clientTracking: false,
    // Echo the bearer subprotocol that admitted the page (a browser drops a handshake that echoes none); offer nothing else.
    handleProtocols: (protocols: Set<string>) => this.bearerProtocol([...protocols]) ?? false,
  });
  private readonly clients = new Set<Client>();
  private readonly unsubscribe: () => void;
  private pending: MeshEvent[] = [];
  private pendingStart = 0;
  private received = 0;
  private lastFlush = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly server: Server,
    readonly port: number,
    readonly token: string,
    private readonly controller: MeshController,
    private readonly page: (nonce: string, token: string) => string,
    private readonly assets: Readonly<Record<string, StaticAsset>>,
    private readonly maxBufferedBytes: number,
  ) {
    this.dashboardUrl = `http://127.0.0.1:${port}/?token=${token}`;
    this.allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    this.allowedOrigins = new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: `control API: ${err instanceof Error ? err.message : String(err)}` });
        else res.destroy();
      });
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.unsubscribe = controller.onEvent((event) => this.onEvent(event));
  }

  // ── checks shared by HTTP and WebSocket ────────────────────────────────────────────────

  /** Host, then Origin, then the token: the refusal for the first that fails. */
  private gate(req: IncomingMessage): Refusal | undefined {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.allowedHosts.has(host)) {
      return new Refusal(
        421,
        'bad-host',
        `control API: the Host header must be 127.0.0.1:${this.port} or localhost:${this.port}; requests for other names are refused (DNS rebinding).`,
      );
    }
    const origin = firstHeader(req.headers.origin);
    if (origin !== undefined && !this.allowedOrigins.has(origin.toLowerCase())) {
      return new Refusal(
        403,
        'bad-origin',
        `control API: requests from the origin ${JSON.stringify(origin).slice(0, 200)} are refused; only pages served by this daemon may call it.`,
      );
    }
    return undefined;
  }

  /**
   * True when the request proves the token. An Authorization header, when present, alone decides
   * (Bearer). Otherwise only `fallback` may: the `?token=` of a page or asset load, or the bearer
   * subprotocol of a WebSocket. Cookies are never read.
   */
  private authorized(req: IncomingMessage, fallback: () => boolean = () => false): boolean {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      return m !== null && sameSecret(m[1] as string, this.token);
    }
    return fallback();
  }

  /** The offered `mtls-lab.bearer.TOKEN` subprotocol that names this daemon's token, compared in constant time. */
  private bearerProtocol(offered: readonly string[]): string | undefined {
    let match: string | undefined;
    for (const protocol of offered) {
      if (!protocol.startsWith(BEARER_PROTOCOL_PREFIX)) continue;
      if (sameSecret(protocol.slice(BEARER_PROTOCOL_PREFIX.length), this.token)) match ??= protocol;
    }
    return match;
  }

  private unauthorized(): Refusal {
    return new Refusal(
      401,
      'unauthorized',
      'control API: this request needs the daemon token: send "Authorization: Bearer TOKEN" (daemon.json in the state folder holds it), or open the dashboard URL that `mtls-lab up` printed; cookies are not accepted.',
      { 'WWW-Authenticate': 'Bearer realm="mtls-lab"' },
    );
  }

  // ── HTTP ────────────────────────────────────────────────────────────────────────────────

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const method = req.method ?? 'GET';

    const refusal = this.gate(req);
    if (refusal) return sendRefusal(res, refusal);

    // The page and its data-free assets are the only places a token may travel in a URL: a
    // browser cannot send a header on navigation or on <script src>. The API never takes it there.
    const asset = Object.prototype.hasOwnProperty.call(this.assets, path) ? this.assets[path] : undefined;
    const queryToken = query.get('token');
    const byQuery = (): boolean => (path === '/' || asset !== undefined) && method === 'GET' && queryToken !== null && sameSecret(queryToken, this.token);
    if (!this.authorized(req, byQuery)) return sendRefusal(res, this.unauthorized());

    const command = POST_ROUTES[path];
    if (command !== undefined) {
      if (method !== 'POST') return sendRefusal(res, this.wrongMethod(method, path, 'POST'));
      return this.runCommand(req, res, command, path);
    }
    if (path === '/' || path === '/api/state' || path === EVENTS_PATH || asset !== undefined) {
      if (method !== 'GET') return sendRefusal(res, this.wrongMethod(method, path, 'GET'));
      if (path === '/') return this.sendPage(res);
      if (path === '/api/state') return sendJson(res, 200, this.controller.snapshot());
      if (asset !== undefined) return this.sendAsset(res, asset);
      return sendRefusal(
        res,
        new Refusal(426, 'upgrade-required', `control API: ${EVENTS_PATH} is a WebSocket; connect with a WebSocket client.`, { Upgrade: 'websocket' }),
      );
    }
    sendRefusal(res, new Refusal(404, 'not-found', `control API: there is no route ${method} ${path.slice(0, 200)}.`));
  }

  private wrongMethod(method: string, path: string, allowed: string): Refusal {
    return new Refusal(405, 'method-not-allowed', `control API: ${path} takes ${allowed}, not ${method}.`, { Allow: allowed });
  }

  private sendPage(res: ServerResponse): void {
    const nonce = randomBytes(18).toString('base64');
    const html = this.page(nonce, this.token);
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(html),
      'Content-Security-Policy': contentSecurityPolicy(nonce, this.port),
      'X-Frame-Options': 'DENY',
    });
    res.end(html);
  }

  private sendAsset(res: ServerResponse, asset: StaticAsset): void {
    const body = typeof asset.body === 'string' ? Buffer.from(asset.body) : asset.body;
    res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': asset.type, 'Content-Length': body.byteLength });
    res.end(body);
  }

  private async runCommand(req: IncomingMessage, res: ServerResponse, name: MeshCommandName, path: string): Promise<void> {
    const read = await readBody(req, path);
    if (!read.ok) return sendRefusal(res, new Refusal(read.refusal.status, read.refusal.code, read.refusal.message, { Connection: 'close' }));
    const parsed = parseCommandBody(name, path, read.body);
    if (parsed instanceof Refusal) return sendRefusal(res, parsed);
    try {
      const result = await this.controller.execute(parsed.command);
      sendJson(res, 200, result === undefined ? { ok: true } : result);
    } catch (err) {
      const { status, body } = describeCommandError(err);
      sendJson(res, status, body);
    }
  }

  // ── WebSocket ───────────────────────────────────────────────────────────────────────────

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (this.closing) return void socket.destroy();
    const path = (req.url ?? '/').split('?')[0];
    const refusal =
      this.gate(req) ??
      (this.authorized(req, () => this.bearerProtocol(offeredProtocols(req.headers['sec-websocket-protocol'])) !== undefined) ? undefined : this.unauthorized()) ??
      (path === EVENTS_PATH ? undefined : new Refusal(404, 'not-found', `control API: the only WebSocket is ${EVENTS_PATH}.`));
    if (refusal) return refuseUpgrade(socket, refusal);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const client: Client = { ws, from: 0, lagging: false, laggingSince: 0 };
    this.clients.add(client);
    ws.on('close', () => this.clients.delete(client));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(client, data, isBinary));
    this.sendSnapshot(client);
  }

  private send(client: Client, message: ServerMessage): void {
    if (client.ws.readyState === WebSocket.OPEN) client.ws.send(JSON.stringify(message));
  }

  /** Sends the whole state; the client then gets only events that happened after it. */
  private sendSnapshot(client: Client): void {
    let snapshot: MeshSnapshot;
    try {
      snapshot = this.controller.snapshot();
    } catch {
      client.ws.close(1011, 'control API: the mesh could not produce a snapshot.');
      return;
    }
    client.from = this.received;
    this.send(client, { type: 'mesh/snapshot', snapshot });
  }

  private onMessage(client: Client, data: RawData, isBinary: boolean): void {
    if (isBinary) return client.ws.close(1003, 'control API: messages are JSON text.');
    let value: unknown;
    try {
      value = JSON.parse(data.toString());
    } catch {
      return client.ws.close(1007, 'control API: a message was not valid JSON.');
    }
    if (!isClientMessage(value)) {
      const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
      const id = v['id'];
      if (v['type'] === 'command' && typeof id === 'number' && Number.isSafeInteger(id)) {
        const check = checkMeshCommand(v['command']);
        const problem = check.ok ? 'the message is malformed' : check.problem;
        return this.send(client, { type: 'reply', id, ok: false, code: 'bad-request', error: `control API: ${problem}.` });
      }
      return client.ws.close(1008, 'control API: unknown message; send ready or command.');
    }
    if (value.type === 'ready') return this.sendSnapshot(client);
    const { id, command } = value;
    // Through a promise so that a controller throwing synchronously still gets a reply.
    Promise.resolve()
      .then(() => this.controller.execute(command))
      .then(
      (result) => this.send(client, { type: 'reply', id, ok: true, result } satisfies CommandReply),
      (err: unknown) => {
        const { body } = describeCommandError(err);
        this.send(client, { type: 'reply', id, ok: false, code: body.error, error: body.message });
      },
    );
  }

  // ── event stream: batched, bounded per client ──────────────────────────────────────────

  private onEvent(event: MeshEvent): void {
    const index = this.received++;
    if (this.clients.size === 0 || this.closing) {
      this.pending = [];
      return;
    }
    if (this.pending.length === 0) this.pendingStart = index;
    this.pending.push(event);
    if (this.flushTimer === undefined) {
      const wait = Math.max(0, this.lastFlush + EVENT_BATCH_INTERVAL_MS - Date.now());
      this.flushTimer = setTimeout(() => this.flush(), wait);
    }
  }

  private flush(): void {
    this.flushTimer = undefined;
    this.lastFlush = Date.now();
    const batch = this.pending;
    const start = this.pendingStart;
    this.pending = [];
    if (batch.length === 0) return;
    const framesBySkip = new Map<number, string[]>();
    for (const client of this.clients) {
      if (client.lagging || client.ws.readyState !== WebSocket.OPEN) continue;
      const skip = Math.max(0, client.from - start);
      if (skip >= batch.length) continue;
      let frames = framesBySkip.get(skip);
      if (frames === undefined) {
        frames = encodeFrames(skip === 0 ? batch : batch.slice(skip));
        framesBySkip.set(skip, frames);
      }
      for (const frame of frames) {
        if (client.ws.bufferedAmount > this.maxBufferedBytes) {
          this.fallBehind(client);
          break;
        }
        client.ws.send(frame);
      }
    }
  }

  /** Stops queueing events for a client that does not read; it gets a fresh snapshot once it drains. */
  private fallBehind(client: Client): void {
    client.lagging = true;
    client.laggingSince = Date.now();
    this.lagTimer ??= setInterval(() => this.checkLagging(), LAG_CHECK_MS);
  }

  private checkLagging(): void {
    let stillLagging = false;
    for (const client of this.clients) {
      if (!client.lagging) continue;
      if (client.ws.readyState !== WebSocket.OPEN) continue;
      if (client.ws.bufferedAmount <= this.maxBufferedBytes / 2) {
        client.lagging = false;
        this.sendSnapshot(client);
      } else if (Date.now() - client.laggingSince > LAGGING_GIVE_UP_MS) {
        client.ws.terminate();
      } else {
        stillLagging = true;
      }
    }
    if (!stillLagging && this.lagTimer !== undefined) {
      clearInterval(this.lagTimer);
      this.lagTimer = undefined;
    }
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────────

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.unsubscribe();
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    if (this.lagTimer !== undefined) clearInterval(this.lagTimer);
    this.flushTimer = undefined;
    this.lagTimer = undefined;
    this.pending = [];
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const sockets = [...this.clients].map(
      ({ ws }) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => ws.terminate(), 1000);
          ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          ws.close(1001, 'control API: the daemon is stopping.');
        }),
    );
    this.server.closeAllConnections();
    await Promise.all(sockets);
    this.clients.clear();
    this.wss.close();
    await serverClosed;
  }
}

function encodeFrames(events: readonly MeshEvent[]): string[] {
  if (events.length === 1) return [JSON.stringify({ type: 'mesh/event', event: events[0] } satisfies ServerMessage)];
  const frames: string[] = [];
  for (let i = 0; i < events.length; i += MAX_EVENTS_PER_FRAME) {
    frames.push(JSON.stringify({ type: 'mesh/events', events: events.slice(i, i + MAX_EVENTS_PER_FRAME) } satisfies ServerMessage));
  }
  return frames;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') {
        reject(new DaemonError('port-in-use', `control API: port ${port} on 127.0.0.1 is in use; choose another with --port, or stop the program that holds it.`));
      } else {
        reject(new DaemonError('listen-failed', `control API: cannot listen on 127.0.0.1:${port}: ${err.message}.`));
      }
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, '127.0.0.1');
  });
}

/**
 * Starts the control API on 127.0.0.1 and resolves once it listens. Every route needs the token;
 * see DESIGN.md ("Control API") for the contract and the module header for the checks.
 */
export async function startControlApi(options: ControlApiOptions): Promise<ControlApi> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DaemonError('bad-option', `control API: the port must be an integer from 0 to 65535, not ${String(port)}.`);
  }
  const token = options.token ?? randomBytes(32).toString('hex');
  if (!TOKEN_PATTERN.test(token)) {
    throw new DaemonError('bad-token', 'control API: the token must be 16 to 256 characters of A-Z, a-z, 0-9, "-", ".", "_" or "~".');
  }
  const assets = options.assets ?? {};
  for (const path of Object.keys(assets)) {
    if (!path.startsWith('/') || path.includes('?') || path === '/' || path.startsWith('/api/')) {
      throw new DaemonError('bad-option', `control API: the asset path ${JSON.stringify(path)} must start with "/" and be neither "/" nor under /api/.`);
    }
  }
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  if (!(maxBufferedBytes > 0)) throw new DaemonError('bad-option', 'control API: maxBufferedBytes must be a positive number of bytes.');
  const server = createServer();
  await listen(server, port);
  const actualPort = (server.address() as AddressInfo).port;
  return new ControlApiServer(server, actualPort, token, options.controller, options.page ?? defaultPage, assets, maxBufferedBytes);
}
