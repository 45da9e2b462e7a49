// A Rotator on a FakeClock with a real CA and real files, for the rotation tests.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, type IssuedSvid } from '../../../src/core/ca/authority.js';
import { svidPaths } from '../../../src/core/ca/svidFiles.js';
import { EventBus } from '../../../src/core/events/bus.js';
import type { MeshEvent } from '../../../src/core/events/types.js';
import { certificatesFromPem } from '../../../src/core/pki/pem.js';
import { FakeClock } from '../../../src/core/rotation/fakeClock.js';
import { Rotator, type RotatorOptions } from '../../../src/core/rotation/rotator.js';
import { TrustDomain, workloadId, type SpiffeId } from '../../../src/core/spiffe/index.js';

export const td = TrustDomain.mustParse('lab.local');
export const T0 = Date.UTC(2026, 11, 4, 12);
export const idOf = (service: string): SpiffeId => workloadId(td, 'default', service);

export interface Rig {
  readonly clock: FakeClock;
  readonly ca: CertificateAuthority;
  readonly events: MeshEvent[];
  readonly bus: EventBus;
  readonly rotator: Rotator;
  readonly root: string;
  /** Events of one type, in order. */
  of<T extends MeshEvent['type']>(type: T): Extract<MeshEvent, { type: T }>[];
  dirOf(service: string): string;
  dispose(): Promise<void>;
}

export function makeRig(o: Partial<RotatorOptions> & { intermediate?: boolean } = {}): Rig {
  const clock = new FakeClock(T0);
  const ca = CertificateAuthority.create({ trustDomain: td, intermediate: o.intermediate === true, now: new Date(T0 - 86_400_000) });
  const bus = new EventBus(() => new Date(clock.now()));
  const events: MeshEvent[] = [];
  bus.on((e) => events.push(e));
  const root = mkdtempSync(join(tmpdir(), 'mtls-lab-rot-'));
  const rotator = new Rotator({ ca, clock, events: bus, ttlMs: 60_000, checkIntervalMs: 5_000, ...o });
  return {
    clock,
    ca,
    events,
    bus,
    rotator,
    root,
    of: <T extends MeshEvent['type']>(type: T) => events.filter((e): e is Extract<MeshEvent, { type: T }> => e.type === type),
    dirOf: (service) => join(root, service),
    dispose: async () => {
      await rotator.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface FileSet {
  readonly cert: string;
  readonly key: string;
  readonly bundle: string;
}

export function readFiles(dir: string): FileSet {
  const p = svidPaths(dir);
  return { cert: readFileSync(p.cert, 'utf8'), key: readFileSync(p.key, 'utf8'), bundle: readFileSync(p.bundle, 'utf8') };
}

/** True when the key in the files belongs to the leaf in the files: never half of one pair and half of another. */
export function keyMatchesLeaf(files: FileSet): boolean {
  const leaf = new X509Certificate(certificatesFromPem(files.cert)[0] as Buffer);
  const pub = createPublicKey(createPrivateKey(files.key)).export({ type: 'spki', format: 'der' });
  return pub.equals(leaf.publicKey.export({ type: 'spki', format: 'der' }));
}

export const serialOfPem = (pem: string): string => new X509Certificate(certificatesFromPem(pem)[0] as Buffer).serialNumber.toLowerCase();

/** Wraps the rig's CA so a test can make issuance fail on cue; `bind` it to the rig it is passed to. */
export interface FailingIssuer {
  readonly issue: (id: SpiffeId, ttlMs: number) => IssuedSvid;
  readonly failFor: Set<string>;
  readonly failAll: { on: boolean };
  bind(rig: Rig): Rig;
}

export function failingIssuer(): FailingIssuer {
  let bound: Rig | undefined;
  const failFor = new Set<string>();
  const failAll = { on: false };
  return {
    failFor,
    failAll,
    issue: (id, ttlMs) => {
      if (failAll.on || failFor.has(id.toString())) throw new Error('the CA is unreachable (test)');
      if (!bound) throw new Error('rig: bind the failing issuer to its rig first.');
      return bound.ca.issue({ id, ttlMs, now: new Date(bound.clock.now()) });
    },
    bind: (rig) => (bound = rig),
  };
}
