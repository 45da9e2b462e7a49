// The extension's settings as one typed value, read through a getter so tests need no VS Code.
import { parseDuration } from '../core/duration.js';

export type KeyType = 'ec-p256' | 'rsa-2048';

export interface LabSettings {
  readonly trustDomain: string;
  /** As written, e.g. "1h". */
  readonly svidTtl: string;
  readonly keyType: KeyType;
  /** Short lifetimes so a person can watch rotation happen. */
  readonly demoPreset: boolean;
  /** Empty: the CLI's own default (`$MTLS_LAB_STATE`, else the user's state folder). */
  readonly stateFolder: string;
}

/** The TTL the demo preset uses: long enough to read the graph, short enough to watch a rotation (at 1m). */
export const DEMO_TTL = '2m';

export const DEFAULT_SETTINGS: LabSettings = {
  trustDomain: 'lab.local',
  svidTtl: '1h',
  keyType: 'ec-p256',
  demoPreset: false,
  stateFolder: '',
};

const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;

/** Reads settings through `get` (a WorkspaceConfiguration's), falling back to the defaults for anything malformed. */
export function readSettings(get: (key: string) => unknown): LabSettings {
  const td = get('trustDomain');
  const ttl = get('svidTtl');
  const keyType = get('keyType');
  const state = get('stateFolder');
  const trustDomain = typeof td === 'string' ? td.trim().replace(/^spiffe:\/\//, '') : '';
  return {
    trustDomain: TRUST_DOMAIN.test(trustDomain) ? trustDomain : DEFAULT_SETTINGS.trustDomain,
    svidTtl: typeof ttl === 'string' && isDuration(ttl) ? ttl.trim() : DEFAULT_SETTINGS.svidTtl,
    keyType: keyType === 'rsa-2048' ? 'rsa-2048' : 'ec-p256',
    demoPreset: get('demoPreset') === true,
    stateFolder: typeof state === 'string' ? state.trim() : '',
  };
}

function isDuration(text: string): boolean {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}

/** The SVID lifetime to ask for: the demo preset's when it is on, else the configured one. */
export function effectiveTtl(settings: LabSettings): string {
  return settings.demoPreset ? DEMO_TTL : settings.svidTtl;
}

/** `spiffe://<td>/ns/default/sa/<service>`: the workload ID shape DESIGN.md fixes. */
export function defaultSpiffeId(trustDomain: string, service: string): string {
  return `spiffe://${trustDomain}/ns/default/sa/${service}`;
}

/** The service-name rule of the config schema. */
export const SERVICE_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$/;
