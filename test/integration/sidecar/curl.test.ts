// curl (OpenSSL) as a caller of a sidecar's mesh port with the files `mtls-lab issue` writes:
// it gets through with a current SVID and is refused as 'expired' once that SVID has run out.
// curl checks the host name, so billing's SVID also carries DNS name localhost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../../src/core/ca/authority.js';
import { writeSvidFiles, type SvidPaths } from '../../../src/core/ca/svidFiles.js';
import { EventBus } from '../../../src/core/events/bus.js';
import { Sidecar } from '../../../src/core/mesh/sidecar.js';
import { toPem } from '../../../src/core/pki/pem.js';
import { SpiffeId, TrustDomain } from '../../../src/core/spiffe/index.js';
import { describeRun, removeDir, requireTool, run, tempDir } from '../peers/helpers.js';
import { Backend, EventLog, TestBundleSource, TestSvidSource, allowOnly, material, rejectionOn } from './support.js';

const BILLING = 'spiffe://lab.local/ns/default/sa/billing';
const CURL = 'spiffe://lab.local/ns/default/sa/curl';
/** Short enough to wait out; issue() rounds notAfter down to the second, so the SVID lives 2–3 s. */
const CURL_TTL_MS = 3_000;

describe('sidecar with curl as the caller', () => {
  const curl = requireTool('curl');
  const bus = new EventBus();
  const log = new EventLog(bus);
  let dir: string | undefined;
  let backend: Backend | undefined;
  let billing: Sidecar | undefined;

  beforeAll(async () => {
    dir = tempDir('sidecar-curl');
    backend = await Backend.start('billing');
  });

  afterAll(async () => {
    await billing?.stop();
    await backend?.close();
    log.dispose();
    removeDir(dir);
  });

  it('gets through with a current SVID and is refused as expired after it runs out', async () => {
    const ca = CertificateAuthority.create({ trustDomain: TrustDomain.parse('lab.local'), intermediate: true });
    const server = ca.issue({ id: SpiffeId.parse(BILLING), dnsNames: ['localhost'] });
    const key = server.key;
    if (key === undefined || backend === undefined || dir === undefined) throw new Error('test: setup is incomplete.');
    billing = new Sidecar({
      service: 'billing',
      spiffeId: BILLING,
      trustDomain: 'lab.local',
      svid: new TestSvidSource(material({ chainPem: server.chain.map((d) => toPem('CERTIFICATE', d)).join(''), keyPem: toPem('PRIVATE KEY', key.pkcs8) })),
      bundles: new TestBundleSource(new Map([['lab.local', ca.bundlePem()]])),
      servicePort: backend.port,
      upstreams: [],
      authorize: allowOnly({ [CURL]: 'curl-to-billing' }),
      mode: 'strict',
      bus,
    });
    const port = (await billing.start()).meshPort as number;

    const client = ca.issue({ id: SpiffeId.parse(CURL), ttlMs: CURL_TTL_MS });
    const files: SvidPaths = writeSvidFiles(dir, client, ca.bundlePem());
    const call = (): ReturnType<typeof run> =>
      run(curl, ['-sS', '--max-time', '5', '--cert', files.cert, '--key', files.key, '--cacert', files.bundle, '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/hello`]);

    const fresh = await call();
    expect(fresh.code, describeRun(fresh)).toBe(0);
    expect(fresh.stdout).toBe('ok billing 1\n');
    expect(log.events.find((e) => e.type === 'handshake')).toMatchObject({ caller: { spiffeId: CURL }, callee: { spiffeId: BILLING } });

    // Wait the SVID out (bounded by its TTL), then call again with the same files.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, client.notAfter.getTime() - Date.now()) + 1_100));
    const bytesBefore = backend.bytes;
    const stale = await call();
    expect(stale.code, describeRun(stale)).not.toBe(0);
    const rejection = await log.waitFor(rejectionOn('server'), 'server-side rejection');
    expect(rejection).toMatchObject({ reason: 'expired', caller: { spiffeId: CURL } });
    expect(rejection.detail).toMatch(/expired .* ago/);
    expect(backend.requests).toBe(1);
    expect(backend.bytes).toBe(bytesBefore);
  });
});
