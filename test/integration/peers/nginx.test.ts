// nginx as a real mTLS server holding our server SVID and trusting only our bundle, curl as the
// client holding our client SVID (svid.pem as written: leaf, then the intermediate if any).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../../src/core/ca/authority.js';
import { SpiffeId, TrustDomain } from '../../../src/core/spiffe/index.js';
import {
  LOCALHOST,
  PeerProcess,
  describeRun,
  presentsCertificate,
  removeDir,
  requireTool,
  run,
  stopAll,
  tempDir,
  uriSans,
  waitForPort,
  withFreePort,
  writeSvid,
  type RunResult,
  type SvidFiles,
  CA_CASES,
  type CaCase,
} from './helpers.js';

const TD = TrustDomain.parse('lab.local');
const SERVER_ID = 'spiffe://lab.local/ns/default/sa/nginx';
const CLIENT_ID = 'spiffe://lab.local/ns/default/sa/curl';
const HOUR_MS = 3_600_000;

// nginx gets the EC setups and RSA with a chain; RSA root-only adds nothing openssl.test.ts does not cover.
const NGINX_CASES: readonly CaCase[] = CA_CASES.filter((c) => c.name !== 'RSA-2048, root only');

/** Which client credentials curl presents. */
type Client = 'ours' | 'none' | 'rogue-ca' | 'expired';

interface RequestCase {
  readonly name: string;
  readonly client: Client;
  readonly status: number;
  /** In the response body. */
  readonly body: RegExp;
  /** In nginx's error log for this request (info level); undefined: no error expected. */
  readonly log?: RegExp;
}

const REQUESTS: readonly RequestCase[] = [
  { name: 'our client SVID is accepted and nginx sees its SPIFFE ID', client: 'ours', status: 200, body: /^verify=SUCCESS$/m },
  { name: 'no client certificate is rejected', client: 'none', status: 400, body: /No required SSL certificate was sent/, log: /client sent no required SSL certificate/ },
  {
    name: 'a client SVID from a rogue CA of the same trust domain is rejected',
    client: 'rogue-ca',
    status: 400,
    body: /The SSL certificate error/,
    // Which of these OpenSSL names depends on the chain: no issuer found (20, or 21 for a lone leaf; 2 above an
    // intermediate), or an issuer with the same name whose key does not match (7).
    log: /client SSL certificate verify error: \((2:unable to get issuer certificate|7:certificate signature failure|20:unable to get local issuer certificate|21:unable to verify the first certificate)\)/,
  },
  { name: 'an expired client SVID is rejected', client: 'expired', status: 400, body: /The SSL certificate error/, log: /client SSL certificate verify error: \(10:certificate has expired\)/ },
];

interface Site {
  readonly dir: string;
  readonly port: number;
  readonly nginx: PeerProcess;
  readonly bundle: string;
  readonly clients: Readonly<Record<Exclude<Client, 'none'>, SvidFiles>>;
}

function nginxConf(prefix: string, port: number, server: SvidFiles, bundle: string): string {
  const p = (name: string): string => join(prefix, name);
  return `# mTLS Lab real-peer test: one process, everything under ${prefix}.
master_process off;
pid ${p('nginx.pid')};
error_log ${p('error.log')} info;
error_log stderr info;
events { worker_connections 64; }
http {
  access_log ${p('access.log')};
  client_body_temp_path ${p('tmp/body')};
  proxy_temp_path ${p('tmp/proxy')};
  fastcgi_temp_path ${p('tmp/fastcgi')};
  uwsgi_temp_path ${p('tmp/uwsgi')};
  scgi_temp_path ${p('tmp/scgi')};
  server {
    listen ${LOCALHOST}:${port} ssl;
    server_name localhost;
    ssl_certificate ${server.cert};
    ssl_certificate_key ${server.key};
    ssl_client_certificate ${bundle};
    ssl_verify_client on;
    ssl_verify_depth 2;
    location / {
      default_type text/plain;
      return 200 "verify=$ssl_client_verify\\nsubject=$ssl_client_s_dn\\ncert=$ssl_client_escaped_cert\\n";
    }
  }
}
`;
}

async function startSite(nginxBin: string, c: CaCase): Promise<Site> {
  const dir = tempDir('nginx');
  try {
    const ca = CertificateAuthority.create({ trustDomain: TD, keyType: c.keyType, intermediate: c.intermediate });
    const rogue = CertificateAuthority.create({ trustDomain: TD, keyType: c.keyType, intermediate: c.intermediate });
    const now = new Date();
    const serverSvid = ca.issue({ id: SpiffeId.parse(SERVER_ID), ttlMs: HOUR_MS, dnsNames: ['localhost'], now });
    const server = writeSvid(join(dir, 'server'), serverSvid, ca.bundlePem());
    const clients = {
      ours: writeSvid(join(dir, 'client'), ca.issue({ id: SpiffeId.parse(CLIENT_ID), ttlMs: HOUR_MS, now }), ca.bundlePem()),
      'rogue-ca': writeSvid(join(dir, 'rogue'), rogue.issue({ id: SpiffeId.parse(CLIENT_ID), ttlMs: HOUR_MS, now }), rogue.bundlePem()),
      // Issued two hours ago for one minute: expired for well over an hour, whatever the backdating.
      expired: writeSvid(join(dir, 'expired'), ca.issue({ id: SpiffeId.parse(CLIENT_ID), ttlMs: 60_000, now: new Date(now.getTime() - 2 * HOUR_MS) }), ca.bundlePem()),
    };
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, ca.bundlePem());
    const leafDer = serverSvid.chain[0] as Buffer;
    const started = await withFreePort(async (port) => {
      const prefix = join(dir, `nginx-${port}`);
      mkdirSync(join(prefix, 'tmp'), { recursive: true });
      const conf = join(prefix, 'nginx.conf');
      writeFileSync(conf, nginxConf(prefix, port, server, bundle));
      const nginx = new PeerProcess(nginxBin, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log'), '-g', 'daemon off;']);
      try {
        // Ready once the TLS server on the port shows our server SVID (not merely something listening).
        await waitForPort(port, { peer: nginx, timeoutMs: 10_000, probe: presentsCertificate(leafDer) });
      } catch (err) {
        await nginx.stop();
        throw err;
      }
      return { port, nginx };
    });
    return { dir, bundle, clients, ...started };
  } catch (err) {
    removeDir(dir);
    throw err;
  }
}

async function curl(site: Site, client: Client): Promise<RunResult & { status: number; body: string }> {
  const creds = client === 'none' ? [] : ['--cert', site.clients[client].cert, '--key', site.clients[client].key];
  const r = await run(
    requireTool('curl'),
    [
      '--silent', '--show-error', '--max-time', '5',
      '--resolve', `localhost:${site.port}:${LOCALHOST}`,
      '--cacert', site.bundle,
      ...creds,
      '--write-out', '\nHTTP_STATUS %{http_code}\n',
      `https://localhost:${site.port}/`,
    ],
    { timeoutMs: 8_000 },
  );
  const m = /\nHTTP_STATUS (\d+)\n$/.exec(r.stdout);
  return { ...r, status: m ? Number(m[1]) : -1, body: m ? r.stdout.slice(0, m.index) : r.stdout };
}

describe.each(NGINX_CASES)('nginx + curl mutual TLS, $name (real peers)', (c) => {
  let site: Site | undefined;

  beforeAll(async () => {
    requireTool('curl');
    site = await startSite(requireTool('nginx'), c);
  });

  afterAll(async () => {
    await site?.nginx.stop();
    await stopAll();
    removeDir(site?.dir);
  });

  it.each(REQUESTS)('$name', async (row) => {
    const s = site as Site;
    const logStart = s.nginx.stderr.length;
    const r = await curl(s, row.client);
    const log = s.nginx.stderr.slice(logStart);
    const context = `${describeRun(r)}\n--- nginx log for this request:\n${log}`;
    // curl verified nginx's SVID against the bundle and the DNS SAN localhost, or it would fail before HTTP.
    expect(r.code, context).toBe(0);
    expect(r.status, context).toBe(row.status);
    expect(r.body, context).toMatch(row.body);
    if (row.log) expect(log, context).toMatch(row.log);
    if (row.client === 'ours') {
      expect(log, context).not.toMatch(/verify error/);
      const escaped = /^cert=(.*)$/m.exec(r.body)?.[1] ?? '';
      expect(uriSans(decodeURIComponent(escaped)), context).toEqual([CLIENT_ID]);
      expect(r.body, context).toMatch(/^subject=CN=curl,O=mTLS Lab$/m);
    }
    expect(s.nginx.running, `nginx stopped:\n${s.nginx.output}`).toBe(true);
  });
});
