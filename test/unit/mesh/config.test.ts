import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import {
  ConfigError,
  DEFAULT_KEY_TYPE,
  DEFAULT_NAMESPACE,
  DEFAULT_TRUST_DOMAIN,
  DEFAULT_TTL,
  checkMeshConfig,
  formatMeshConfig,
  loadMeshConfig,
  parseMeshConfig,
} from '../../../src/core/mesh/config.js';
import type {
  MemberOfFile,
  MeshConfig,
  MeshConfigFile,
  PolicyConfigFile,
  PolicyRuleFile,
  ReloadCommandConfig,
  ReloadSignalConfig,
  ServiceConfigFile,
  UpstreamObjectFile,
} from '../../../src/core/mesh/config.js';
import { KEY_TYPES } from '../../../src/core/pki/keys.js';
import { POLICY_MODES, Policy, RULE_NAME_PATTERN } from '../../../src/core/policy/index.js';
import { SpiffeId } from '../../../src/core/spiffe/index.js';

const FIXTURES = resolve(__dirname, '../../fixtures/config');
const SCHEMA_FILE = resolve(__dirname, '../../../schema/mtls-lab.schema.json');
const SOURCE = 'mtls-lab.json';

function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    if (err instanceof ConfigError) return err;
  }
  throw new Error('test: expected a ConfigError, but nothing was thrown.');
}

/** A JSON-only view of a resolved config (SpiffeId and TrustDomain serialize as strings). */
function plain(config: MeshConfig): unknown {
  return JSON.parse(JSON.stringify(config));
}

// ---------------------------------------------------------------------------------------------
// Bad configs: each row breaks one thing and asserts where (path) and how to fix it (message).

const svc = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name, command: ['node', 'server.js'], ...extra });

function configText(edit: Record<string, unknown>): string {
  return JSON.stringify({ services: [svc('frontend', { entry: true, upstreams: ['orders'] }), svc('orders')], ...edit }, null, 2);
}

interface BadRow {
  readonly name: string;
  readonly text: string;
  /** The JSON path the first error names; '' for the file as a whole. */
  readonly path: string;
  /** Fragments the message must hold: the problem and the fix. */
  readonly says: readonly string[];
  /** For syntax errors: the line:column in the message. */
  readonly at?: string;
}

const badRows: readonly BadRow[] = [
  // JSON syntax, with line:column
  { name: 'empty file', text: '', path: '', at: '1:1', says: ['the file is empty; write a JSON object such as {"services"'] },
  { name: 'trailing comma (fixture)', text: fixture('bad-syntax-trailing-comma.json'), path: '', at: '3:59', says: ['a comma comes before "}"', 'remove it'] },
  { name: 'missing comma between properties', text: '{\n  "ttl": "1h"\n  "services": []\n}', path: '', at: '3:3', says: ['expected "," or "}" after the value of "ttl"', 'add a comma between properties'] },
  { name: 'unquoted property name', text: '{ services: [] }', path: '', at: '1:3', says: ['the property name services needs double quotes; write "services"'] },
  { name: 'a comment', text: '{\n  // the mesh\n  "services": []\n}', path: '', at: '2:3', says: ['JSON has no comments; remove the comment'] },
  { name: 'unclosed object', text: '{\n  "services": [\n', path: '', at: '3:1', says: ['the file ends before the array opened at 2:15 is closed; add "]"'] },
  // Shape, from the schema
  { name: 'top level is an array', text: '[]', path: '', says: ['config: mtls-lab.json: the config is an empty array; it must be an object.'] },
  { name: 'no services', text: '{}', path: '', says: ['the config has no "services"; add it, e.g. "services": [{"name": "orders", "command": ["node", "server.js"]}]'] },
  { name: 'empty services', text: '{"services": []}', path: 'services', says: ['services is an empty array; list at least one service'] },
  { name: 'unknown top-level property (typo)', text: configText({ polcy: {} }), path: '', says: ['the config has the unknown property "polcy"; rename it to "policy", or remove it.'] },
  { name: 'unknown service property (typo)', text: configText({ services: [svc('orders', { upstream: [] })] }), path: 'services[0]', says: ['services[0] has the unknown property "upstream"; rename it to "upstreams"'] },
  { name: 'service without a command', text: '{"services": [{"name": "orders"}]}', path: 'services[0]', says: ['services[0] has no "command"; add it, e.g. "command": ["node", "server.js"]'] },
  { name: 'command as one string', text: configText({ services: [svc('orders', { command: 'node server.js' })] }), path: 'services[0].command', says: ['is "node server.js"; give the program and its arguments as an array of strings, e.g. ["node", "server.js"]'] },
  { name: 'port as a string', text: configText({ services: [svc('orders', { port: '8080' })] }), path: 'services[0].port', says: ['services[0].port is "8080"; a port is a whole number from 1 to 65535, or 0 to pick a free one at start.'] },
  { name: 'port out of range', text: configText({ services: [svc('orders', { port: 70000 })] }), path: 'services[0].port', says: ['is 70000; a port is a whole number from 1 to 65535'] },
  { name: 'service name with capitals', text: configText({ services: [svc('Orders')] }), path: 'services[0].name', says: ['is "Orders", which is not allowed (try "orders"); a service name is 1 to 63 lowercase letters'] },
  { name: 'mode typo', text: configText({ services: [svc('orders', { mode: 'sidecars' })] }), path: 'services[0].mode', says: ['is "sidecars" (did you mean "sidecar"?); use "sidecar" or "native".'] },
  { name: 'bad key type', text: configText({ keyType: 'ed25519' }), path: 'keyType', says: ['keyType is "ed25519"; use "ec-p256" or "rsa-2048".'] },
  { name: 'upstream as a number', text: configText({ services: [svc('orders', { upstreams: [3] })] }), path: 'services[0].upstreams[0]', says: ['is 3; an upstream is a service name, e.g. "orders", or {"service": "orders", "localPort": 7001}.'] },
  { name: 'upstream object with a typo', text: configText({ services: [svc('a'), svc('orders', { upstreams: [{ service: 'a', localport: 7001 }] })] }), path: 'services[1].upstreams[0]', says: ['has the unknown property "localport"; rename it to "localPort"'] },
  { name: 'env value not a string', text: configText({ services: [svc('orders', { env: { PORT: 8080 } })] }), path: 'services[0].env.PORT', says: ['is 8080; environment values are strings: put numbers and booleans in quotes, e.g. "8080".'] },
  { name: 'env key not a variable name', text: configText({ services: [svc('orders', { env: { 'LOG-LEVEL': 'x' } })] }), path: 'services[0].env', says: ['has the key "LOG-LEVEL", which is not allowed; an environment variable name is letters, digits and "_"'] },
  { name: 'reload with neither form', text: configText({ services: [svc('orders', { reload: {} })] }), path: 'services[0].reload', says: ['is an empty object; give reload as {"signal": "SIGHUP"} or {"command": ["program", "arg"]}.'] },
  { name: 'reload with both forms', text: configText({ services: [svc('orders', { reload: { signal: 'SIGHUP', command: ['x'] } })] }), path: 'services[0].reload', says: ['has both "signal" and "command"; give reload as {"signal": "SIGHUP"} or'] },
  { name: 'reload signal not offered', text: configText({ services: [svc('orders', { reload: { signal: 'SIGKILL' } })] }), path: 'services[0].reload.signal', says: ['is "SIGKILL"; use "SIGHUP", "SIGUSR1" or "SIGUSR2".'] },
  { name: 'rule without `to`', text: configText({ policy: { rules: [{ name: 'r', from: 'orders' }] } }), path: 'policy.rules[0]', says: ['policy.rules[0] has no "to"; add it, e.g. "to": "billing"'] },
  { name: 'rule `from` as a number', text: configText({ policy: { rules: [{ name: 'r', from: 5, to: 'orders' }] } }), path: 'policy.rules[0].from', says: ['is 5; name a service, e.g. "orders", a SPIFFE ID, a list of them, or {"memberOf": "lab.local"}.'] },
  { name: 'rule `to` empty list', text: configText({ policy: { rules: [{ name: 'r', from: 'orders', to: [] }] } }), path: 'policy.rules[0].to', says: ['is an empty array; name at least one service or SPIFFE ID.'] },
  // Durations and SPIFFE names: the parsers' own messages
  { name: 'ttl over 24h (fixture)', text: fixture('bad-ttl-over-24h.json'), path: 'ttl', says: ['ttl is "36h", longer than 24h; SVIDs live at most 24h', 'use e.g. "1h"'] },
  { name: 'ttl not a duration', text: configText({ ttl: '1 hour' }), path: 'ttl', says: ['ttl: "1 hour" is not a duration; write a number and a unit, e.g. 90s, 5m, 1h or 1h30m.'] },
  { name: 'ttl zero', text: configText({ ttl: '0s' }), path: 'ttl', says: ['ttl: "0s" is zero; give a positive duration such as 30s or 1h.'] },
  { name: 'ttl below a second', text: configText({ ttl: '500ms' }), path: 'ttl', says: ['is "500ms", shorter than 1s; an SVID lives from 1s to 24h'] },
  { name: 'ttl with a fraction of a second', text: configText({ ttl: '1s500ms' }), path: 'ttl', says: ['is "1s500ms", which is not a whole number of seconds', 'use e.g. "2s"'] },
  { name: 'trust domain with capitals', text: configText({ trustDomain: 'Lab.Local' }), path: 'trustDomain', says: ['trustDomain: trust domain "Lab.Local" contains "L"', '(try "lab.local")'] },
  { name: 'malformed spiffeId (fixture)', text: fixture('bad-spiffe-id-empty-segment.json'), path: 'services[0].spiffeId', says: ['services[0].spiffeId: ID "spiffe://lab.local/ns//orders" has an empty path segment', '(try "spiffe://lab.local/ns/orders")'] },
  { name: 'spiffeId with the wrong scheme', text: configText({ services: [svc('orders', { spiffeId: 'SPIFFE://lab.local/orders' })] }), path: 'services[0].spiffeId', says: ['does not start with "spiffe://"', '(try "spiffe://lab.local/orders")'] },
  { name: 'spiffeId that is a trust domain root', text: configText({ services: [svc('orders', { spiffeId: 'spiffe://lab.local' })] }), path: 'services[0].spiffeId', says: ['is the root ID of trust domain "lab.local" and names no workload'] },
  { name: 'rule `from` with a malformed ID', text: configText({ policy: { rules: [{ name: 'r', from: ['orders', 'spiffe://lab.local/a/'], to: 'orders' }] } }), path: 'policy.rules[0].from[1]', says: ['ends with "/"', '(try "spiffe://lab.local/a")'] },
  { name: 'memberOf a malformed trust domain', text: configText({ policy: { rules: [{ name: 'r', from: { memberOf: 'lab local' }, to: 'orders' }] } }), path: 'policy.rules[0].from.memberOf', says: ['trust domain "lab local" contains " "'] },
  // Beyond the schema
  {
    name: 'upstream naming an unknown service (fixture)',
    text: fixture('bad-upstream-unknown-service.json'),
    path: 'services[2].upstreams[0]',
    says: ['config: mtls-lab.json: services[2].upstreams[0] names "billing", which is not a service; use one of: orders, payments, inventory.'],
  },
  { name: 'upstream object naming an unknown service', text: configText({ services: [svc('orders', { upstreams: [{ service: 'billing' }] })] }), path: 'services[0].upstreams[0].service', says: ['names "billing", which is not a service; the mesh has no other service, so add one or remove this upstream'] },
  { name: 'upstream naming itself', text: configText({ services: [svc('a'), svc('orders', { upstreams: ['orders'] })] }), path: 'services[1].upstreams[0]', says: ['names "orders", which is services[1] ("orders") itself', 'remove it'] },
  { name: 'upstream listed twice', text: configText({ services: [svc('a', { upstreams: ['orders', 'orders'] }), svc('orders')] }), path: 'services[0].upstreams[1]', says: ['names "orders" again (services[0].upstreams[0] already does); list each upstream once.'] },
  { name: 'duplicate service names', text: configText({ services: [svc('orders'), svc('orders')] }), path: 'services[1].name', says: ['services[1].name is "orders", which services[0].name already uses; give each service its own name.'] },
  { name: 'duplicate explicit ports (fixture)', text: fixture('bad-duplicate-port.json'), path: 'services[1].meshPort', says: ['services[1].meshPort is 8080, which services[0].port already uses; give each port once, or 0 to pick a free one at start.'] },
  { name: 'duplicate upstream local port', text: configText({ services: [svc('a', { port: 7001 }), svc('b', { upstreams: [{ service: 'a', localPort: 7001 }] })] }), path: 'services[1].upstreams[0].localPort', says: ['is 7001, which services[0].port already uses'] },
  { name: 'two entries', text: configText({ services: [svc('a', { entry: true }), svc('b', { entry: true })] }), path: 'services[1].entry', says: ['is true, but services[0] ("a") is already the entry', 'set entry on one service only'] },
  { name: 'native entry', text: configText({ services: [svc('a', { entry: true, mode: 'native' })] }), path: 'services[0].entry', says: ['is native and speaks only mTLS', 'make it a sidecar service or set entry on another one'] },
  { name: 'meshPort on a native service', text: configText({ services: [svc('a', { mode: 'native', meshPort: 9000 })] }), path: 'services[0].meshPort', says: ['is set, but services[0] ("a") is native and accepts mTLS on its own port; remove meshPort.'] },
  { name: 'localPort on a native service', text: configText({ services: [svc('a', { mode: 'native', upstreams: [{ service: 'b', localPort: 7001 }] }), svc('b')] }), path: 'services[0].upstreams[0].localPort', says: ['is native and dials its upstreams itself; remove localPort'] },
  { name: 'namespace and spiffeId together', text: configText({ services: [svc('a', { namespace: 'shop', spiffeId: 'spiffe://lab.local/x' })] }), path: 'services[0].namespace', says: ['is set, and so is spiffeId', 'remove namespace, or remove spiffeId to get spiffe://lab.local/ns/shop/sa/a'] },
  { name: 'spiffeId in another trust domain', text: configText({ services: [svc('a', { spiffeId: 'spiffe://other.org/a' })] }), path: 'services[0].spiffeId', says: ["is spiffe://other.org/a, in trust domain other.org, but this mesh's CA signs only for lab.local; use an ID that starts with spiffe://lab.local/"] },
  { name: 'two services with one SPIFFE ID', text: configText({ services: [svc('a'), svc('b', { spiffeId: 'spiffe://lab.local/ns/default/sa/a' })] }), path: 'services[1].spiffeId', says: ['gives the SPIFFE ID spiffe://lab.local/ns/default/sa/a, which services[0] ("a") already has'] },
  { name: 'rule `from` naming an unknown service', text: configText({ policy: { rules: [{ name: 'r', from: 'fronted', to: 'orders' }] } }), path: 'policy.rules[0].from', says: ['names "fronted", which is not a service; use one of: frontend, orders, or a SPIFFE ID such as spiffe://lab.local/ns/default/sa/frontend.'] },
  { name: 'rule `to` naming an unknown service in a list', text: configText({ policy: { rules: [{ name: 'r', from: 'frontend', to: ['orders', 'billing'] }] } }), path: 'policy.rules[0].to[1]', says: ['names "billing", which is not a service; use one of: frontend, orders'] },
  { name: 'rule `to` an ID that is no service', text: configText({ policy: { rules: [{ name: 'r', from: 'frontend', to: 'spiffe://lab.local/ns/default/sa/billing' }] } }), path: 'policy.rules[0].to', says: ["is spiffe://lab.local/ns/default/sa/billing, which is no service's SPIFFE ID", 'name one of: frontend, orders'] },
  { name: 'duplicate rule names', text: configText({ policy: { rules: [{ name: 'r', from: 'frontend', to: 'orders' }, { name: 'r', from: 'orders', to: 'frontend' }] } }), path: 'policy.rules[1].name', says: ['is "r", which policy.rules[0].name already uses; give each rule its own name.'] },
  { name: 'reserved rule name', text: configText({ policy: { rules: [{ name: 'default-deny', from: 'frontend', to: 'orders' }] } }), path: 'policy.rules[0].name', says: ['is "default-deny", which is reserved for decisions that no rule made; choose another name.'] },
  { name: 'duplicate JSON key', text: '{"services": [{"name": "a", "command": ["x"], "port": 1, "port": 2}]}', path: 'services[0]', says: ['services[0] has "port" twice; keep one (JSON keeps only the last).'] },
];

describe('parseMeshConfig rejects bad configs', () => {
  it('has at least 20 rows', () => {
    expect(badRows.length).toBeGreaterThanOrEqual(20);
  });

  it.each(badRows)('$name', ({ text, path, says, at }) => {
    const err = errorOf(() => parseMeshConfig(text, SOURCE, { configDir: '/work' }));
    expect(err.code).toBe('bad-config');
    expect(err.path).toBe(path);
    const prefix = at !== undefined ? `config: ${SOURCE}:${at}: ` : path === '' ? `config: ${SOURCE}: ` : `config: ${SOURCE}: ${path}`;
    expect(err.message.startsWith(prefix), `${err.message}\n  should start with\n${prefix}`).toBe(true);
    for (const fragment of says) expect(err.message).toContain(fragment);
    expect(err.message).toMatch(/[.?]$/);
    expect(err.problems[0]?.message).toBe(err.message);
  });
});

// ---------------------------------------------------------------------------------------------
// Good configs.

const goodFixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && !f.startsWith('bad-'));
const badFixtures = readdirSync(FIXTURES).filter((f) => f.startsWith('bad-'));

describe('good configs', () => {
  it('minimal: every default filled', () => {
    const config = parseMeshConfig(fixture('minimal.json'), SOURCE, { configDir: '/work/app' });
    expect(plain(config)).toEqual({
      source: SOURCE,
      configDir: '/work/app',
      trustDomain: 'lab.local',
      ttlMs: 3_600_000,
      keyType: 'ec-p256',
      intermediate: false,
      mode: 'strict',
      services: [
        {
          name: 'orders',
          command: ['node', 'server.js'],
          cwd: '/work/app',
          port: 0,
          meshPort: 0,
          entry: false,
          mode: 'sidecar',
          namespace: 'default',
          spiffeId: 'spiffe://lab.local/ns/default/sa/orders',
          upstreams: [],
          env: {},
        },
      ],
      policy: { rules: [] },
      warnings: [],
    });
  });

  it('every field: overrides, native services, ID and member-of rules', () => {
    const config = parseMeshConfig(fixture('every-field.json'), SOURCE, { configDir: '/work/app' });
    expect(config.trustDomain.name).toBe('corp.example');
    expect(config.ttlMs).toBe(5_400_000);
    expect(config.keyType).toBe('rsa-2048');
    expect(config.intermediate).toBe(true);
    expect(config.mode).toBe('permissive');
    const [gateway, ledger, audit] = config.services;
    expect(gateway?.spiffeId.toString()).toBe('spiffe://corp.example/ns/edge/sa/gateway');
    expect(gateway?.cwd).toBe('/work/app/apps/gateway');
    expect(gateway?.upstreams.map((u) => [u.service, u.spiffeId.toString(), u.localPort])).toEqual([
      ['ledger', 'spiffe://corp.example/team/finance/ledger', 7001],
      ['audit', 'spiffe://corp.example/ns/default/sa/audit', 0],
    ]);
    expect(ledger?.reload).toEqual({ signal: 'SIGHUP' });
    expect(audit?.cwd).toBe('/opt/audit');
    expect(audit?.reload).toEqual({ command: ['./audit', 'reload'] });
    const policy = new Policy({ mode: config.mode, rules: config.policy.rules });
    expect(policy.toJSON().rules).toEqual([
      { name: 'gateway-to-ledger', from: 'spiffe://corp.example/ns/edge/sa/gateway', to: 'spiffe://corp.example/team/finance/ledger' },
      { name: 'corp-to-audit', from: { memberOf: 'corp.example' }, to: 'spiffe://corp.example/ns/default/sa/audit' },
      {
        name: 'ops-cli',
        from: ['spiffe://corp.example/cli/alice', 'spiffe://corp.example/team/finance/ledger'],
        to: ['spiffe://corp.example/ns/edge/sa/gateway', 'spiffe://corp.example/team/finance/ledger'],
      },
    ]);
    expect(policy.evaluate(SpiffeId.mustParse('spiffe://corp.example/cli/alice'), gateway!.spiffeId).rule).toBe('ops-cli');
    expect(config.warnings).toEqual([]);
  });

  it.each(goodFixtures.map((f) => ({ name: f })))('round-trips: $name', ({ name }) => {
    const first = parseMeshConfig(fixture(name), SOURCE, { configDir: '/work/app' });
    const file = formatMeshConfig(first);
    const second = parseMeshConfig(JSON.stringify(file, null, 2), SOURCE, { configDir: '/work/app' });
    const { warnings: w1, ...a } = plain(first) as { warnings: unknown };
    const { warnings: w2, ...b } = plain(second) as { warnings: unknown };
    expect(b).toEqual(a);
    expect((w2 as unknown[]).length).toBe((w1 as unknown[]).length);
    expect(formatMeshConfig(second)).toEqual(file);
  });

  it('formatMeshConfig leaves defaults out', () => {
    expect(formatMeshConfig(parseMeshConfig(fixture('minimal.json'), SOURCE))).toEqual({ services: [{ name: 'orders', command: ['node', 'server.js'] }] });
  });

  it('a byte-order mark and CRLF line ends are fine', () => {
    const text = `\uFEFF${fixture('sample-mesh.json').replace(/\n/g, '\r\n')}`;
    expect(parseMeshConfig(text, SOURCE).services).toHaveLength(5);
  });
});

describe('warnings', () => {
  it('an upstream that no rule allows is a warning that names the rule to add', () => {
    const { config, problems } = checkMeshConfig(fixture('permissive-migration.json'), SOURCE);
    expect(config).toBeDefined();
    expect(problems).toEqual([
      {
        severity: 'warning',
        message:
          'config: mtls-lab.json: services[0].upstreams[0] names "orders", but no policy rule lets legacy call it, so the mesh will deny those calls; add {"name": "legacy-to-orders", "from": "legacy", "to": "orders"} to policy.rules, unless the denial is the point.',
        path: 'services[0].upstreams[0]',
        line: 4,
        column: 73,
      },
    ]);
    expect(config?.warnings).toEqual(problems);
  });

  it('the sample mesh allows every call it declares', () => {
    expect(checkMeshConfig(fixture('sample-mesh.json'), SOURCE).problems).toEqual([]);
  });
});

describe('checkMeshConfig', () => {
  it('reports every problem, in file order, with line and column', () => {
    const text = ['{', '  "ttl": "25h",', '  "services": [', '    { "name": "Orders", "command": ["x"], "port": -1 }', '  ]', '}'].join('\n');
    const { config, problems } = checkMeshConfig(text, SOURCE);
    expect(config).toBeUndefined();
    expect(problems.map((p) => [p.path, p.line, p.column])).toEqual([
      ['ttl', 2, 10],
      ['services[0].name', 4, 15],
      ['services[0].port', 4, 51],
    ]);
  });

  it('semantic problems are located too', () => {
    const text = fixture('bad-upstream-unknown-service.json');
    const problem = checkMeshConfig(text, SOURCE).problems[0];
    const line = text.split('\n')[4] ?? '';
    expect(problem).toMatchObject({ line: 5, column: line.indexOf('"billing"') + 1 });
  });
});

describe('loadMeshConfig', () => {
  it('resolves relative cwd against the config file folder', async () => {
    const path = join(FIXTURES, 'sample-mesh.json');
    const config = await loadMeshConfig(path);
    expect(config.source).toBe(path);
    expect(config.configDir).toBe(FIXTURES);
    expect(config.services[0]?.cwd).toBe(join(FIXTURES, 'sample-services/frontend'));
  });

  it('a missing file is no-config and names the fix', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mtls-lab-config-')), 'mtls-lab.json');
    await expect(loadMeshConfig(path)).rejects.toMatchObject({ code: 'no-config', message: expect.stringContaining('there is no such file; create it') as unknown });
  });

  it('a folder is bad-config and names the file to pass', async () => {
    await expect(loadMeshConfig(FIXTURES)).rejects.toMatchObject({ code: 'bad-config', message: expect.stringContaining('is a folder; pass the config file in it') as unknown });
  });

  it('errors name the path as given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtls-lab-config-'));
    const path = join(dir, 'mesh.json');
    writeFileSync(path, '{"services": [{"name": "a", "command": ["x"], "port": "1"}]}');
    await expect(loadMeshConfig(path)).rejects.toThrow(`config: ${path}: services[0].port is "1"`);
  });
});

// ---------------------------------------------------------------------------------------------
// The schema file itself: it validates the fixtures, and it matches the TypeScript types.

interface Node {
  readonly $ref?: string;
  readonly type?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly pattern?: string;
  readonly properties?: Readonly<Record<string, Node>>;
  readonly oneOf?: readonly Node[];
  readonly items?: Node;
  readonly additionalProperties?: boolean | Node;
  readonly definitions?: Readonly<Record<string, Node>>;
}

const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Node;
const defs = schema.definitions ?? {};

function def(name: string): Node {
  const node = defs[name];
  if (node === undefined) throw new Error(`test: the schema has no definition "${name}".`);
  return node;
}

function deref(node: Node | undefined): Node {
  if (node?.$ref === undefined) return node ?? {};
  return { ...deref(def(node.$ref.replace('#/definitions/', ''))), ...node, $ref: undefined };
}

// `satisfies Record<keyof T, true>` fails to compile if a key is missing or extra: these lists are the types.
const typeKeys: readonly { readonly name: string; readonly keys: Record<string, true>; readonly node: Node }[] = [
  {
    name: 'MeshConfigFile',
    keys: { $schema: true, trustDomain: true, ttl: true, keyType: true, intermediate: true, mode: true, services: true, policy: true } satisfies Record<keyof MeshConfigFile, true>,
    node: schema,
  },
  {
    name: 'ServiceConfigFile',
    keys: {
      name: true,
      command: true,
      cwd: true,
      port: true,
      meshPort: true,
      entry: true,
      mode: true,
      namespace: true,
      spiffeId: true,
      upstreams: true,
      env: true,
      reload: true,
    } satisfies Record<keyof ServiceConfigFile, true>,
    node: def('service'),
  },
  { name: 'UpstreamObjectFile', keys: { service: true, localPort: true } satisfies Record<keyof UpstreamObjectFile, true>, node: deref(def('upstream').oneOf?.[1]) },
  { name: 'ReloadSignalConfig', keys: { signal: true } satisfies Record<keyof ReloadSignalConfig, true>, node: deref(def('reload').oneOf?.[0]) },
  { name: 'ReloadCommandConfig', keys: { command: true } satisfies Record<keyof ReloadCommandConfig, true>, node: deref(def('reload').oneOf?.[1]) },
  { name: 'PolicyConfigFile', keys: { rules: true } satisfies Record<keyof PolicyConfigFile, true>, node: deref(schema.properties?.['policy']) },
  { name: 'PolicyRuleFile', keys: { name: true, from: true, to: true } satisfies Record<keyof PolicyRuleFile, true>, node: def('rule') },
  { name: 'MemberOfFile', keys: { memberOf: true } satisfies Record<keyof MemberOfFile, true>, node: deref(def('rule').properties?.['from']?.oneOf?.[2]) },
];

/** Every object node with `properties`, wherever it sits, with its JSON pointer. */
function objectNodes(node: unknown, pointer: string, out: { pointer: string; node: Node }[] = []): { pointer: string; node: Node }[] {
  if (node === null || typeof node !== 'object') return out;
  if (!Array.isArray(node) && pointer.indexOf('/defaultSnippets') < 0 && pointer.indexOf('/examples') < 0 && pointer.indexOf('/default') < 0) {
    const n = node as Node;
    if (n.properties !== undefined && !pointer.endsWith('/properties')) out.push({ pointer, node: n });
  }
  for (const [k, v] of Object.entries(node)) objectNodes(v, `${pointer}/${k}`, out);
  return out;
}

describe('the shipped schema', () => {
  it.each(typeKeys)('$name: every property of the type is in the schema, and nothing else', ({ keys, node }) => {
    expect(Object.keys(node.properties ?? {}).sort()).toEqual(Object.keys(keys).sort());
    expect(node.additionalProperties).toBe(false);
  });

  it('every object in the schema is one of the types above', () => {
    const mapped = new Set(typeKeys.map((t) => t.node.properties));
    const unmapped = objectNodes(schema, '').filter(({ node }) => !mapped.has(node.properties));
    expect(unmapped.map((u) => u.pointer)).toEqual([]);
  });

  // Optional properties without a default: the value is computed ($schema is the editor's, spiffeId
  // derives from namespace and name) or absent means "none" (reload).
  const NO_DEFAULT = new Set(['$schema', 'spiffeId', 'reload']);

  it('every property has a description, and every optional one a default', () => {
    const missing: string[] = [];
    for (const { pointer, node } of objectNodes(schema, '')) {
      const required = new Set((node as { readonly required?: readonly string[] }).required ?? []);
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        const resolved = deref(child);
        if (typeof resolved.description !== 'string' || resolved.description.length < 10) missing.push(`${pointer}/properties/${key}: description`);
        if (!required.has(key) && !NO_DEFAULT.has(key) && resolved.default === undefined) missing.push(`${pointer}/properties/${key}: default`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('defaults in the schema are the defaults the loader fills', () => {
    const props = schema.properties ?? {};
    const service = def('service').properties ?? {};
    expect(props['trustDomain']?.default).toBe(DEFAULT_TRUST_DOMAIN);
    expect(props['ttl']?.default).toBe(DEFAULT_TTL);
    expect(props['keyType']?.default).toBe(DEFAULT_KEY_TYPE);
    expect(props['intermediate']?.default).toBe(false);
    expect(props['mode']?.default).toBe('strict');
    expect(service['namespace']?.default).toBe(DEFAULT_NAMESPACE);
    expect(service['mode']?.default).toBe('sidecar');
    expect(deref(service['port']).default).toBe(0);
    const minimal = parseMeshConfig(fixture('minimal.json'), SOURCE);
    expect(minimal.services[0]?.port).toBe(0);
    expect(minimal.services[0]?.mode).toBe('sidecar');
  });

  it('enums and patterns agree with the code', () => {
    const props = schema.properties ?? {};
    expect(props['keyType']?.enum).toEqual(KEY_TYPES);
    expect(props['mode']?.enum).toEqual(POLICY_MODES);
    expect(def('rule').properties?.['name']?.pattern).toBe(RULE_NAME_PATTERN);
  });

  // A plain draft-07 validator, as an editor would use the file: formats are ours, so left out.
  const editorAjv = new Ajv({ strict: true, validateFormats: false });
  editorAjv.addVocabulary(['errorMessage', 'patternErrorMessage', 'markdownDescription', 'enumDescriptions', 'defaultSnippets']);
  const validate = editorAjv.compile(schema);

  it.each(goodFixtures.map((f) => ({ name: f })))('accepts the good fixture $name', ({ name }) => {
    expect(validate(JSON.parse(fixture(name))), JSON.stringify(validate.errors)).toBe(true);
  });

  // What an editor sees without our formats: shapes and patterns. Cross-references, limits and the
  // SPIFFE rules a pattern cannot hold are the loader's, which rejects every bad fixture.
  const badFixtureRows: readonly { readonly name: string; readonly file: string; readonly editorAccepts: boolean }[] = [
    { name: 'duplicate ports are invisible to a schema', file: 'bad-duplicate-port.json', editorAccepts: true },
    { name: 'the ID pattern catches an empty segment', file: 'bad-spiffe-id-empty-segment.json', editorAccepts: false },
    { name: 'the TTL pattern accepts 36h; the 24h cap is the loader\'s', file: 'bad-ttl-over-24h.json', editorAccepts: true },
    { name: 'an unknown upstream is a cross-reference', file: 'bad-upstream-unknown-service.json', editorAccepts: true },
  ];

  it('covers every bad fixture', () => {
    expect(badFixtureRows.map((r) => r.file).sort()).toEqual(badFixtures.filter((f) => !f.includes('syntax')).sort());
  });

  it.each(badFixtureRows)('bad fixture: $name', ({ file, editorAccepts }) => {
    expect(validate(JSON.parse(fixture(file)))).toBe(editorAccepts);
    expect(() => parseMeshConfig(fixture(file), SOURCE)).toThrow(ConfigError);
  });

  it.each([
    { name: 'ttl "1 hour"', config: { ttl: '1 hour', services: [{ name: 'a', command: ['x'] }] } },
    { name: 'service name "Orders"', config: { services: [{ name: 'Orders', command: ['x'] }] } },
    { name: 'upstream 3', config: { services: [{ name: 'a', command: ['x'], upstreams: [3] }] } },
    { name: 'rule without `to`', config: { services: [{ name: 'a', command: ['x'] }], policy: { rules: [{ name: 'r', from: 'a' }] } } },
  ])('the editor and the loader both reject $name', ({ config }) => {
    expect(validate(config)).toBe(false);
    expect(() => parseMeshConfig(JSON.stringify(config), SOURCE)).toThrow(ConfigError);
  });
});
