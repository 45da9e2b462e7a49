import { request, Agent } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMeshConfig, type MeshConfig } from '../../../src/core/mesh/config.js';
import { Mesh } from '../../../src/core/mesh/mesh.js';

export const ROOT = join(__dirname, '..', '..', '..');
export const SAMPLE_CONFIG = join(ROOT, 'sample-services', 'mtls-lab.json');
export const INTRUDER = join(ROOT, 'sample-services', 'intruder', 'intruder.js');

export async function sampleConfig(ttlMs?: number): Promise<MeshConfig> {
  const config = await loadMeshConfig(SAMPLE_CONFIG);
  return ttlMs === undefined ? config : { ...config, ttlMs };
}

export interface StartedMesh {
  readonly mesh: Mesh;
  readonly stateDir: string;
  stop(): Promise<void>;
}

export async function startSampleMesh(ttlMs?: number): Promise<StartedMesh> {
  const stateDir = mkdtempSync(join(tmpdir(), 'mtls-lab-mesh-'));
  const mesh = await Mesh.start({ config: await sampleConfig(ttlMs), stateDir, intruderScript: INTRUDER });
  return {
    mesh,
    stateDir,
    stop: async () => {
      await mesh.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  readonly failures: string[];
  readonly perSecond: number;
}

/** POSTs orders to the entry at `rps` with keep-alive until `durationMs` passes; bounded and self-stopping. */
export async function orderLoad(entryUrl: string, rps: number, durationMs: number, during?: (elapsedMs: number) => void): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const url = new URL('/api/order', entryUrl);
  let ok = 0;
  let failed = 0;
  const failures: string[] = [];
  const inflight = new Set<Promise<void>>();
  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 200) ok++;
          else {
            failed++;
            if (failures.length < 10) failures.push(`${res.statusCode}: ${body.slice(0, 4000)}`);
          }
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        failed++;
        if (failures.length < 10) failures.push(err.message);
        resolve();
      });
      req.end(JSON.stringify({ customerId: 'cust-load', items: [{ sku: 'sku-cable', qty: 1 }] }));
    });
  const start = Date.now();
  let sent = 0;
  while (Date.now() - start < durationMs) {
    const due = Math.floor(((Date.now() - start) / 1000) * rps);
    while (sent < due && inflight.size < 64) {
      const p = one().finally(() => inflight.delete(p));
      inflight.add(p);
      sent++;
    }
    during?.(Date.now() - start);
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(inflight);
  agent.destroy();
  return { ok, failed, failures, perSecond: ok / (durationMs / 1000) };
}
