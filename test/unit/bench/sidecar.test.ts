// The sidecar benchmark in miniature: real processes (backend, sidecar, load client, and nginx
// where it is installed), a few hundred milliseconds per path. It checks the shape of the result
// and that nothing failed, never the speed. Slow for a unit test (a few seconds): it starts real processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseParser, RESPONSE } from '../../../bench/loadClient.js';
import { renderSidecar, runSidecar, type ScenarioResult, type SidecarResult } from '../../../bench/sidecar.js';

describe('ResponseParser', () => {
  const two = Buffer.concat([RESPONSE, Buffer.from('HTTP/1.1 503 Busy\r\ncontent-length: 3\r\n\r\nno\n', 'latin1')]);
  const cases: { name: string; chunks: Buffer[]; want: number[] }[] = [
    { name: 'one response in one chunk', chunks: [RESPONSE], want: [200] },
    { name: 'two responses in one chunk, lower-case header', chunks: [two], want: [200, 503] },
    { name: 'split inside the head', chunks: [RESPONSE.subarray(0, 10), RESPONSE.subarray(10)], want: [200] },
    { name: 'split inside the blank line', chunks: [RESPONSE.subarray(0, RESPONSE.indexOf('\r\n\r\n') + 2), RESPONSE.subarray(RESPONSE.indexOf('\r\n\r\n') + 2)], want: [200] },
    { name: 'split inside the body', chunks: [RESPONSE.subarray(0, RESPONSE.length - 3), RESPONSE.subarray(RESPONSE.length - 3)], want: [200] },
    { name: 'byte by byte', chunks: [...two].map((b) => Buffer.from([b])), want: [200, 503] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got: number[] = [];
      const parser = new ResponseParser((status) => got.push(status));
      for (const chunk of c.chunks) parser.push(chunk);
      expect(got).toEqual(c.want);
    });
  }

  it('refuses a response without Content-Length', () => {
    const parser = new ResponseParser(() => undefined);
    expect(() => parser.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1'))).toThrow(/Content-Length/);
  });
});

describe('sidecar benchmark, tiny run', () => {
  let dir: string;
  let result: SidecarResult;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mtls-lab-bench-test-'));
    const workerPath = join(dir, 'bench-worker.js');
    await build({ entryPoints: ['bench/worker.ts'], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: workerPath, logLevel: 'warning' });
    result = await runSidecar({ windowMs: 300, warmupMs: 100, rounds: 1, settleMs: 50, connections: 4, workerPath });
  }, 60_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const paths = (): { name: string; s: ScenarioResult | null }[] => [
    { name: 'keep-alive direct', s: result.keepAlive.direct },
    { name: 'keep-alive ours', s: result.keepAlive.ours },
    { name: 'keep-alive nginx', s: result.keepAlive.nginx },
    { name: 'new-connection ours', s: result.newConnection.ours },
    { name: 'new-connection nginx', s: result.newConnection.nginx },
  ];

  it('answers on every path that ran, with no error', () => {
    expect(result.errors).toBe(0);
    for (const { name, s } of paths()) {
      if (s === null) {
        expect(name, 'only nginx rows may be missing (nginx not installed)').toMatch(/nginx/);
        expect(result.nginx).toBeNull();
        continue;
      }
      expect(s.errors, `${name}: ${JSON.stringify(s.errorKinds)}`).toBe(0);
      expect(s.requests, name).toBeGreaterThan(0);
      expect(s.perSec, name).toBeGreaterThan(0);
      expect(s.latencyUs.p99, name).toBeGreaterThanOrEqual(s.latencyUs.p50);
      expect(s.cpu.proxy === null, name).toBe(s.target === 'direct');
    }
  });

  it('makes a full handshake for every new connection and refuses nothing', () => {
    expect(result.newConnection.ours.resumed).toBe(0);
    expect(result.newConnection.ours.connectionsOpened).toBeGreaterThan(0);
    expect(result.keepAlive.ours.tls).toMatchObject({ protocol: 'TLSv1.3', group: 'prime256v1' });
    expect(result.sidecar).toMatchObject({ refused: 0, denied: 0, handshakeErrors: 0 });
  });

  it('reports ratios against nginx (when it ran) and against the direct path', () => {
    expect(result.ratios.reqPerSecOverDirect).toBeGreaterThan(0);
    if (result.nginx !== null) {
      expect(result.ratios.reqPerSecOverNginx).toBeGreaterThan(0);
      expect(result.ratios.handshakesPerSecOverNginx).toBeGreaterThan(0);
      expect(typeof result.targets.reqPerSec.met).toBe('boolean');
    }
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it('prints a table row per path and a line per goal', () => {
    const text = renderSidecar(result);
    expect(text).toMatch(/^keep-alive: ours \(Sidecar\)/m);
    expect(text).toMatch(/^new TLS conn\/request: ours/m);
    expect(text).toMatch(/^sidecar vs nginx, keep-alive requests\/s: .*(PASS|BELOW|n\/a)/m);
    expect(text).toMatch(/^sidecar vs nginx, new handshakes\/s: .*(PASS|BELOW|n\/a)/m);
    expect(text).toMatch(/^errors over every path: 0$/m);
  });
});
