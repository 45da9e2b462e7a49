// How the page talks to the mesh. One interface, two carriers of the same typed protocol: in VS
// Code, postMessage through the extension (which relays the daemon's stream); in a browser, a
// WebSocket straight to the daemon. The page was opened as `/?token=…` and keeps that address (a
// reload must work); the WebSocket proves the token by offering the subprotocol
// `mtls-lab.bearer.TOKEN`, since a browser cannot set headers there and a URL is logged too easily.
// The daemon sets no cookie: browsers would send it to every local port.
import { isServerMessage } from '../src/protocol/messages.js';
import { BEARER_PROTOCOL_PREFIX } from '../src/protocol/messages.js';
import type { ClientMessage, ServerMessage } from '../src/protocol/messages.js';

export type TransportStatus =
  | { readonly state: 'connecting'; readonly attempt: number }
  | { readonly state: 'open' }
  | { readonly state: 'closed'; readonly retryInMs: number; readonly attempt: number; readonly reason?: string }
  | { readonly state: 'disposed' };

export interface Transport {
  /** Sends when connected; a message sent while disconnected is dropped (the caller learns it from the status). */
  send(message: ClientMessage): boolean;
  /** Every well-formed message from the server; malformed ones are dropped and reported via `onStatus` never. Returns the unsubscribe function. */
  onMessage(listener: (message: ServerMessage) => void): () => void;
  onStatus(listener: (status: TransportStatus) => void): () => void;
  readonly status: TransportStatus;
  dispose(): void;
}

/** What the page needs of `acquireVsCodeApi()`. */
export interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

/** The part of a Window the transports use, so Node tests can hand in fakes. */
export interface TransportHost {
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
}

class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();
  add(listener: (value: T) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }
  emit(value: T): void {
    for (const l of [...this.set]) l(value);
  }
  clear(): void {
    this.set.clear();
  }
}

/**
 * The VS Code carrier: messages go out by `api.postMessage` and come in as window `message`
 * events from the extension. Says `ready` at once; the extension answers with a snapshot.
 */
export function vscodeTransport(api: VsCodeApi, host: TransportHost): Transport {
  const messages = new Listeners<ServerMessage>();
  const statuses = new Listeners<TransportStatus>();
  let status: TransportStatus = { state: 'open' };
  const onWindowMessage = (event: { readonly data: unknown }): void => {
    if (isServerMessage(event.data)) messages.emit(event.data);
  };
  host.addEventListener('message', onWindowMessage);
  const transport: Transport = {
    send(message) {
      if (status.state !== 'open') return false;
      api.postMessage(message);
      return true;
    },
    onMessage: (l) => messages.add(l),
    onStatus: (l) => statuses.add(l),
    get status() {
      return status;
    },
    dispose() {
      host.removeEventListener('message', onWindowMessage);
      status = { state: 'disposed' };
      statuses.emit(status);
      messages.clear();
      statuses.clear();
    },
  };
  // After the caller had a chance to subscribe.
  queueMicrotask(() => {
    if (status.state === 'open') api.postMessage({ type: 'ready' } satisfies ClientMessage);
  });
  return transport;
}

/** The part of the WebSocket API the transport uses. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { readonly data: unknown }) => void) | null;
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export interface WebSocketTransportOptions {
  /** Default: the global WebSocket, `new WebSocket(url, protocols)`. */
  readonly createSocket?: (url: string, protocols: readonly string[]) => SocketLike;
  /** The subprotocols to offer on every (re)connect, e.g. `[bearerProtocol(token)]`. Default none. */
  readonly protocols?: readonly string[];
  /** First retry delay; doubles (with ±20% jitter) up to `maxDelayMs`. Default 500 ms. */
  readonly minDelayMs?: number;
  /** Default 10 s. */
  readonly maxDelayMs?: number;
  readonly random?: () => number;
  readonly setTimer?: (run: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
}

const OPEN = 1;

/** The subprotocol prefix by which the daemon (src/daemon/controlApi.ts says the same) admits a browser page. */
export { BEARER_PROTOCOL_PREFIX };
// The daemon's token alphabet; all of it is legal in a subprotocol name.
const TOKEN = /^[A-Za-z0-9._~-]{1,256}$/;

/** The subprotocol that carries `token` to the daemon. */
export function bearerProtocol(token: string): string {
  return BEARER_PROTOCOL_PREFIX + token;
}

/** The `?token=` of the page's address, when it is one the daemon could have issued. */
export function tokenFromSearch(search: string): string | undefined {
  const token = new URLSearchParams(search).get('token');
  return token !== null && TOKEN.test(token) ? token : undefined;
}

/** The delay before reconnect attempt `attempt` (1-based): exponential from `min` to `max`, ±20% jitter. */
export function backoffDelay(attempt: number, min: number, max: number, random: () => number): number {
  const base = Math.min(max, min * 2 ** Math.max(0, attempt - 1));
  return Math.round(Math.min(max, base * (0.8 + 0.4 * random())));
}

/**
 * The browser carrier: a WebSocket to `url` that says `ready` on every (re)connect, so each
 * connection starts with a full snapshot, and reconnects with exponential backoff after a close.
 */
export function webSocketTransport(url: string, options: WebSocketTransportOptions = {}): Transport {
  const createSocket = options.createSocket ?? ((u: string, p: readonly string[]): SocketLike => new WebSocket(u, [...p]) as unknown as SocketLike);
  const protocols = options.protocols ?? [];
  const min = options.minDelayMs ?? 500;
  const max = options.maxDelayMs ?? 10_000;
  const random = options.random ?? Math.random;
  const setTimer = options.setTimer ?? ((run: () => void, ms: number): unknown => setTimeout(run, ms));
  const clearTimer = options.clearTimer ?? ((h: unknown): void => clearTimeout(h as ReturnType<typeof setTimeout>));
  const messages = new Listeners<ServerMessage>();
  const statuses = new Listeners<TransportStatus>();
  let status: TransportStatus = { state: 'connecting', attempt: 1 };
  let socket: SocketLike | undefined;
  let timer: unknown;
  let failures = 0;
  let disposed = false;

  const setStatus = (next: TransportStatus): void => {
    status = next;
    statuses.emit(next);
  };

  const connect = (): void => {
    timer = undefined;
    if (disposed) return;
    setStatus({ state: 'connecting', attempt: failures + 1 });
    let ws: SocketLike;
    try {
      ws = createSocket(url, protocols);
    } catch (err) {
      scheduleRetry(err instanceof Error ? err.message : String(err));
      return;
    }
    socket = ws;
    ws.onopen = () => {
      if (socket !== ws) return;
      failures = 0;
      setStatus({ state: 'open' });
      ws.send(JSON.stringify({ type: 'ready' } satisfies ClientMessage));
    };
    ws.onmessage = (event) => {
      if (socket !== ws || typeof event.data !== 'string') return;
      let value: unknown;
      try {
        value = JSON.parse(event.data);
      } catch {
        return;
      }
      if (isServerMessage(value)) messages.emit(value);
    };
    ws.onerror = () => {
      // A close always follows; the retry is scheduled there.
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = undefined;
      scheduleRetry(event.reason || undefined);
    };
  };

  const scheduleRetry = (reason: string | undefined): void => {
    if (disposed) return;
    failures++;
    const retryInMs = backoffDelay(failures, min, max, random);
    setStatus(reason === undefined ? { state: 'closed', retryInMs, attempt: failures } : { state: 'closed', retryInMs, attempt: failures, reason });
    timer = setTimer(connect, retryInMs);
  };

  connect();

  return {
    send(message) {
      if (socket === undefined || socket.readyState !== OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
    onMessage: (l) => messages.add(l),
    onStatus: (l) => statuses.add(l),
    get status() {
      return status;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (timer !== undefined) clearTimer(timer);
      const ws = socket;
      socket = undefined;
      ws?.close(1000, 'page closed');
      setStatus({ state: 'disposed' });
      messages.clear();
      statuses.clear();
    },
  };
}

/** Where the page runs: VS Code when `acquireVsCodeApi` exists, else a browser served by the daemon. */
export interface PageEnvironment {
  readonly acquireVsCodeApi?: () => VsCodeApi;
  /** In a browser, `search` holds the daemon token (`?token=`) the page was opened with. */
  readonly location: { readonly protocol: string; readonly host: string; readonly search: string };
  readonly host: TransportHost;
}

/** The daemon's event stream for a page served from `location`. */
export function eventsUrl(location: { readonly protocol: string; readonly host: string }): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events`;
}

/**
 * Picks the carrier for where the page runs: in a browser, a WebSocket that offers the token of
 * the page's address as the bearer subprotocol (none without a token; the daemon then refuses it).
 */
export function chooseTransport(env: PageEnvironment, options: WebSocketTransportOptions = {}): Transport {
  if (typeof env.acquireVsCodeApi === 'function') return vscodeTransport(env.acquireVsCodeApi(), env.host);
  const token = tokenFromSearch(env.location.search);
  return webSocketTransport(eventsUrl(env.location), { protocols: token === undefined ? [] : [bearerProtocol(token)], ...options });
}
