// The child-process entry of the sidecar benchmark (dist/bench-worker.js): `backend`, `sidecar`
// or `load`, each in a process of its own so the CPU every party spends can be read apart from the
// others in /proc. The parent forks it, sends one `config` message over IPC, and reads `ready`,
// `window` and `report` messages back; a worker whose parent goes away stops and exits.
import { EventBus } from '../src/core/events/bus.js';
import { Sidecar, type SidecarStats } from '../src/core/mesh/sidecar.js';
import { StaticX509Source } from '../src/core/pki/source.js';
import { authorizeAny } from '../src/core/policy/authorizers.js';
import { runLoad, startFixedBackend, type LoadReport, type LoadSpec } from './loadClient.js';

export type WorkerRole = 'backend' | 'sidecar' | 'load';

/** What the sidecar worker serves: one inbound mTLS listener in front of the backend. */
export interface SidecarWorkerConfig {
  readonly service: string;
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly chainPem: string;
  readonly keyPem: string;
  readonly bundlePem: string;
  readonly serial: string;
  /** ms since the epoch */
  readonly notBefore: number;
  readonly notAfter: number;
  readonly servicePort: number;
}

export type ParentMessage =
  | { readonly type: 'config'; readonly config: SidecarWorkerConfig | LoadSpec | Record<string, never> }
  | { readonly type: 'stop' };

export type WorkerMessage =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'window'; readonly phase: 'start' | 'end'; readonly target: number }
  | { readonly type: 'report'; readonly report: LoadReport }
  | { readonly type: 'stopped'; readonly stats?: SidecarStats; readonly requests?: number }
  | { readonly type: 'failed'; readonly error: string };

function send(message: WorkerMessage): void {
  process.send?.(message);
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** Waits for the parent's `config`, runs the role, and answers `stop` by closing everything. */
function main(role: string | undefined): void {
  if (process.send === undefined) {
    process.stderr.write('bench-worker: run by the benchmark through fork(), not by hand.\n');
    process.exitCode = 2;
    return;
  }
  let stop: () => Promise<WorkerMessage> = () => Promise.resolve({ type: 'stopped' });
  const exit = (): void => {
    process.disconnect?.();
  };
  process.on('disconnect', () => process.exit(0));
  process.on('message', (raw: ParentMessage) => {
    if (raw.type === 'stop') {
      void stop().then(
        (m) => {
          send(m);
          exit();
        },
        (err: unknown) => {
          send({ type: 'failed', error: describe(err) });
          exit();
        },
      );
      return;
    }
    void start(role, raw.config).then(
      (stopper) => {
        stop = stopper;
      },
      (err: unknown) => {
        send({ type: 'failed', error: describe(err) });
        exit();
      },
    );
  });
}

async function start(role: string | undefined, config: unknown): Promise<() => Promise<WorkerMessage>> {
  if (role === 'backend') {
    const backend = await startFixedBackend();
    send({ type: 'ready', port: backend.port });
    return async () => {
      await backend.close();
      return { type: 'stopped', requests: backend.requests() };
    };
  }
  if (role === 'sidecar') {
    const c = config as SidecarWorkerConfig;
    const source = new StaticX509Source(
      { spiffeId: c.spiffeId, certChainPem: c.chainPem, keyPem: c.keyPem, serial: c.serial, notBefore: new Date(c.notBefore), notAfter: new Date(c.notAfter) },
      new Map([[c.trustDomain, c.bundlePem]]),
    );
    const sidecar = new Sidecar({
      service: c.service,
      spiffeId: c.spiffeId,
      trustDomain: c.trustDomain,
      svid: source,
      bundles: source,
      servicePort: c.servicePort,
      upstreams: [],
      authorize: authorizeAny(),
      mode: 'strict',
      bus: new EventBus(),
    });
    const ports = await sidecar.start();
    send({ type: 'ready', port: ports.meshPort ?? 0 });
    return async () => {
      const stats = sidecar.stats;
      await sidecar.stop();
      return { type: 'stopped', stats };
    };
  }
  if (role === 'load') {
    const report = await runLoad(config as LoadSpec, { onWindow: (phase, target) => send({ type: 'window', phase, target }) });
    send({ type: 'report', report });
    return () => Promise.resolve({ type: 'stopped' });
  }
  throw new Error(`bench-worker: unknown role "${role ?? ''}"; use backend, sidecar or load.`);
}

main(process.argv[2]);
