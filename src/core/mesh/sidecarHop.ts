// A cheap load client for one hop through sidecars: raw keep-alive connections, one request in
// flight on each, responses framed by Content-Length. A Node https.Agent costs ~100 µs of CPU per
// request and would measure itself (DESIGN.md, facts), so this client stays as thin as it can.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export interface HopOptions {
  /** A plain port (a sidecar's upstream port, or a service) unless `tls` is given (a mesh port). */
  readonly port: number;
  readonly host?: string;
  /** Keep-alive connections, each with one request in flight; default 8. */
  readonly connections?: number;
  /** Measured time after the connections are up; default 1000 ms. */
  readonly durationMs?: number;
  readonly path?: string;
  /** TLS options (cert, key, ca, checkServerIdentity…) to call a mesh port directly. */
  readonly tls?: ConnectionOptions;
}

export interface HopMeasurement {
  readonly requests: number;
  readonly failures: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time of this process (the client and any sidecars in it) per request, µs. */
  readonly cpuMicrosPerRequest: number;
}

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');

function open(o: HopOptions): Promise<Socket> {
  const host = o.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const socket: Socket = o.tls ? tlsConnect({ ...o.tls, host, port: o.port }) : netConnect({ host, port: o.port });
    socket.once('error', reject);
    socket.once(o.tls ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * Drives keep-alive GETs through `port` for `durationMs` and reports requests per second and
 * latency percentiles. Resolves when every connection is closed again; a connection that fails
 * counts a failure and stops.
 */
export async function measureSidecarHop(o: HopOptions): Promise<HopMeasurement> {
  const connections = o.connections ?? 8;
  const durationMs = o.durationMs ?? 1_000;
  const request = Buffer.from(`GET ${o.path ?? '/'} HTTP/1.1\r\nHost: mesh\r\n\r\n`, 'latin1');
  const sockets = await Promise.all(Array.from({ length: connections }, () => open(o)));
  const latencies: number[] = [];
  let failures = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(durationMs) * 1_000_000n;

  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          let pending: Buffer = Buffer.alloc(0);
          let sentAt = 0n;
          let done = false;
          const finish = (failed: boolean): void => {
            if (done) return;
            done = true;
            if (failed) failures++;
            socket.destroy();
            resolve();
          };
          const send = (): void => {
            sentAt = process.hrtime.bigint();
            socket.write(request);
          };
          socket.on('data', (chunk: Buffer) => {
            pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
            for (;;) {
              const end = pending.indexOf(HEADER_END);
              if (end < 0) return;
              const head = pending.toString('latin1', 0, end);
              const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? '0');
              const total = end + HEADER_END.length + length;
              if (pending.length < total) return;
              pending = pending.subarray(total);
              const now = process.hrtime.bigint();
              if (!head.startsWith('HTTP/1.1 200')) return finish(true);
              latencies.push(Number(now - sentAt) / 1e6);
              if (now >= deadline) return finish(false);
              send();
            }
          });
          socket.on('error', () => finish(true));
          socket.on('close', () => finish(!done));
          send();
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  const sorted = latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    failures,
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    cpuMicrosPerRequest: latencies.length === 0 ? 0 : (cpu.user + cpu.system) / latencies.length,
  };
}
