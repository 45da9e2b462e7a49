// Starting sample services under a ServiceRunner, and an mTLS client that reports what the server
// presented (its serial) or how the handshake failed.
import { request } from 'node:https';
import { join } from 'node:path';
import type { ServiceRunner } from '../../../src/core/mesh/serviceRunner.js';
import { NODE, SAMPLES_DIR } from '../serviceRunner/support.js';

/** Starts sample-services/<sample>/server.js (sample defaults to `name`) on `port` with `env`, as the mesh would. */
export function startSample(runner: ServiceRunner, name: string, port: number, env: Record<string, string> = {}, sample = name): Promise<void> {
  return runner.start({
    name,
    command: [NODE, join(sample, 'server.js')],
    cwd: SAMPLES_DIR,
    env: { MTLS_LAB_SERVICE: name, SPIFFE_ID: `spiffe://lab.local/ns/default/sa/${name}`, PORT: String(port), ...env },
    readyPort: port,
    readyTimeoutMs: 8_000,
  });
}

export interface TlsMaterial {
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly ca: string | Buffer;
}

export interface MtlsAnswer {
  readonly status?: number;
  readonly json?: unknown;
  /** The server's leaf serial, lower-case hex. */
  readonly serverSerial?: string;
  readonly error?: string;
}

/** One request on a fresh mTLS connection to 127.0.0.1:port; the server must present `expectId`. Never rejects. */
export function mtlsRequest(port: number, tls: TlsMaterial, expectId: string, method = 'GET', path = '/api/items', body?: unknown): Promise<MtlsAnswer> {
  return new Promise((done) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let serverSerial: string | undefined;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        timeout: 5_000,
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        headers: payload ? { 'content-type': 'application/json' } : {},
        checkServerIdentity: (_host, cert) => {
          serverSerial = cert.serialNumber.toLowerCase();
          const uris = (cert.subjectaltname ?? '').split(/,\s*/).filter((s) => s.startsWith('URI:'));
          return uris.length === 1 && uris[0] === `URI:${expectId}` ? undefined : new Error(`the server presented ${uris.join(' ') || 'no URI SAN'}, not ${expectId}`);
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            json = undefined;
          }
          done({ status: res.statusCode, json, serverSerial });
        });
        res.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message, serverSerial }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message, serverSerial }));
    req.end(payload);
  });
}
