// The daemon's view of a running mesh, as GET /api/state returns it and as the page receives it
// first. JSON-safe, no key material: `files.key` is a path, never the key.
import type { MeshEvent } from '../core/events/types.js';

export interface CaAuthoritySnapshot {
  readonly serial: string;
  /** 'old': still trusted (in the bundle) until the last SVID it signed expires, but no longer signing. */
  readonly status: 'prepared' | 'active' | 'old' | 'retired';
  readonly notBefore: string;
  readonly notAfter: string;
  readonly keyType: string;
  readonly subject: string;
}

export interface ServiceSnapshot {
  readonly name: string;
  readonly spiffeId: string;
  readonly mode: 'sidecar' | 'native';
  readonly entry: boolean;
  readonly state: 'starting' | 'running' | 'exited' | 'restarting' | 'stopped' | 'failed';
  readonly pid?: number;
  /** Current SVID. */
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly rotations: number;
  readonly lastRotation?: string;
  /** The port callers reach it on with mutual TLS (sidecar inbound, or the native service itself). */
  readonly meshPort?: number;
  /** The service's own plain port (sidecar mode). */
  readonly servicePort?: number;
  readonly upstreams: readonly { readonly service: string; readonly spiffeId: string; readonly localPort?: number }[];
  readonly files: { readonly cert: string; readonly key: string; readonly bundle: string };
}

export interface PolicyRuleSnapshot {
  readonly name: string;
  readonly from: readonly string[] | { readonly memberOf: string };
  readonly to: readonly string[];
}

export interface MeshSnapshot {
  readonly trustDomain: string;
  readonly mode: 'strict' | 'permissive';
  readonly ttlMs: number;
  readonly startedAt: string;
  readonly entryUrl?: string;
  readonly ca: {
    readonly keyType: string;
    readonly intermediate: boolean;
    readonly bundleSequence: number;
    readonly authorities: readonly CaAuthoritySnapshot[];
  };
  readonly services: readonly ServiceSnapshot[];
  readonly policy: { readonly mode: 'strict' | 'permissive'; readonly rules: readonly PolicyRuleSnapshot[] };
  /** The most recent events, oldest first, so a page that connects late still shows history. */
  readonly recentEvents: readonly MeshEvent[];
}
