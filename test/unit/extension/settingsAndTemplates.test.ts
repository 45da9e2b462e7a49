import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMeshConfig } from '../../../src/core/mesh/config.js';
import { newConfigText, sampleConfigFor } from '../../../src/extension/configTemplate.js';
import { DEFAULT_SETTINGS, defaultSpiffeId, effectiveTtl, readSettings } from '../../../src/extension/settings.js';
import { labStateDir } from '../../../src/extension/stateFolder.js';

const root = join(__dirname, '..', '..', '..');
const sampleDir = join(root, 'sample-services');
const sampleText = readFileSync(join(sampleDir, 'mtls-lab.json'), 'utf8');

describe('readSettings', () => {
  const rows = [
    { name: 'nothing set: the defaults', values: {}, want: DEFAULT_SETTINGS },
    { name: 'all set', values: { trustDomain: 'example.org', svidTtl: '5m', keyType: 'rsa-2048', demoPreset: true, stateFolder: ' /s ' }, want: { trustDomain: 'example.org', svidTtl: '5m', keyType: 'rsa-2048', demoPreset: true, stateFolder: '/s' } },
    { name: 'a spiffe:// trust domain is accepted', values: { trustDomain: 'spiffe://example.org' }, want: { ...DEFAULT_SETTINGS, trustDomain: 'example.org' } },
    { name: 'malformed values fall back', values: { trustDomain: 'Not A Domain', svidTtl: 'soon', keyType: 'dsa', demoPreset: 'yes' }, want: DEFAULT_SETTINGS },
  ];
  for (const r of rows) {
    it(r.name, () => expect(readSettings((k) => (r.values as Record<string, unknown>)[k])).toEqual(r.want));
  }

  it('the demo preset overrides the TTL', () => {
    expect(effectiveTtl(DEFAULT_SETTINGS)).toBe('1h');
    expect(effectiveTtl({ ...DEFAULT_SETTINGS, demoPreset: true })).toBe('2m');
  });

  it('workload IDs take the Istio shape', () => {
    expect(defaultSpiffeId('lab.local', 'api')).toBe('spiffe://lab.local/ns/default/sa/api');
  });
});

describe('labStateDir', () => {
  it('follows the CLI: setting, else $MTLS_LAB_STATE, else the XDG state folder; ~ expands', () => {
    expect(labStateDir('/x', { HOME: '/h' })).toBe('/x');
    expect(labStateDir('~/lab', { HOME: '/h' })).toBe('/h/lab');
    expect(labStateDir('', { HOME: '/h', MTLS_LAB_STATE: '/env' })).toBe('/env');
    expect(labStateDir('', { HOME: '/h', XDG_STATE_HOME: '/xdg' })).toBe('/xdg/mtls-lab');
    expect(labStateDir('', { HOME: '/h' })).toBe('/h/.local/state/mtls-lab');
  });
});

describe('config texts', () => {
  it('a new mtls-lab.json passes the mesh\'s own config checks (the shipped schema and more)', () => {
    const config = parseMeshConfig(newConfigText({ ...DEFAULT_SETTINGS, trustDomain: 'example.org', svidTtl: '5m' }), '/w/mtls-lab.json');
    expect(config.trustDomain.name).toBe('example.org');
    expect(config.ttlMs).toBe(300_000);
  });

  it('the sample is used as it is when the settings match it', () => {
    expect(sampleConfigFor(sampleText, sampleDir, DEFAULT_SETTINGS)).toBeUndefined();
  });

  it('the sample with another trust domain and key type: a valid copy whose services run from the sample folder', () => {
    const text = sampleConfigFor(sampleText, sampleDir, { ...DEFAULT_SETTINGS, trustDomain: 'example.org', keyType: 'rsa-2048' }) as string;
    const config = parseMeshConfig(text, '/elsewhere/sample-mesh.json');
    expect(config.trustDomain.name).toBe('example.org');
    expect(config.keyType).toBe('rsa-2048');
    const raw = JSON.parse(text) as { services: { cwd: string }[] };
    for (const s of raw.services) expect(s.cwd).toBe(sampleDir);
  });
});
