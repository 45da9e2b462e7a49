// mtls-lab.json texts: a new one for a person's own services, and the sample mesh's with the
// person's trust domain and key type when those differ from the sample's.
import { isAbsolute, resolve } from 'node:path';
import type { LabSettings } from './settings.js';

/** A starting mtls-lab.json: two services, one allowed call, in the settings' trust domain. */
export function newConfigText(settings: LabSettings): string {
  const config = {
    trustDomain: settings.trustDomain,
    ttl: settings.svidTtl,
    keyType: settings.keyType,
    mode: 'strict',
    services: [
      { name: 'web', command: ['node', 'web/server.js'], cwd: '.', entry: true, mode: 'sidecar', upstreams: ['api'] },
      { name: 'api', command: ['node', 'api/server.js'], cwd: '.', mode: 'sidecar', upstreams: [] },
    ],
    policy: { rules: [{ name: 'web-to-api', from: 'web', to: 'api' }] },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * The sample config with `trustDomain` and `keyType` from the settings and every `cwd` made
 * absolute (the copy lives elsewhere), or undefined when the sample's own values already match.
 */
export function sampleConfigFor(sampleText: string, sampleDir: string, settings: LabSettings): string | undefined {
  const config = JSON.parse(sampleText) as Record<string, unknown>;
  const td = typeof config['trustDomain'] === 'string' ? config['trustDomain'] : 'lab.local';
  const kt = typeof config['keyType'] === 'string' ? config['keyType'] : 'ec-p256';
  if (td === settings.trustDomain && kt === settings.keyType) return undefined;
  const services = Array.isArray(config['services']) ? (config['services'] as unknown[]) : [];
  const copy = {
    ...config,
    trustDomain: settings.trustDomain,
    keyType: settings.keyType,
    services: services.map((s) => {
      if (typeof s !== 'object' || s === null) return s;
      const svc = s as Record<string, unknown>;
      const cwd = typeof svc['cwd'] === 'string' ? svc['cwd'] : '.';
      return { ...svc, cwd: isAbsolute(cwd) ? cwd : resolve(sampleDir, cwd) };
    }),
  };
  return `${JSON.stringify(copy, null, 2)}\n`;
}
