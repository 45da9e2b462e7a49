import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '../ca/authority.js';
import { writeSvidFiles } from '../ca/svidFiles.js';
import type { EventBus } from '../events/bus.js';
import type { MeshEvent, RejectReason, RejectionEvent } from '../events/types.js';
import { SpiffeId, TrustDomain } from '../spiffe/index.js';

import type { AttackScenario } from '../../protocol/messages.js';

export { ATTACK_SCENARIOS, isAttackScenario } from '../../protocol/messages.js';
export type { AttackScenario } from '../../protocol/messages.js';

/** The reason a zero-trust mesh must give for each attack. */
export const EXPECTED_REASON: Readonly<Record<AttackScenario, RejectReason>> = {
  'impostor-no-cert': 'no-client-cert',
  'rogue-ca': 'unknown-ca',
  'expired-replay': 'expired',
  unauthorized: 'denied-by-policy',
  plaintext: 'plaintext-on-mtls-port',
};

const STORY: Readonly<Record<AttackScenario, string>> = {
  'impostor-no-cert': 'connects over TLS without any client certificate',
  'rogue-ca': 'presents a certificate for a legitimate caller, minted by its own CA for the same trust domain',
  'expired-replay': 'replays a leaked SVID of a legitimate caller after it expired',
  unauthorized: 'presents a valid SVID of an identity that no policy rule lets call the target',
  plaintext: 'sends plain HTTP to the mutual-TLS port',
};

export class AttackError extends Error {
  override readonly name = 'AttackError';
  constructor(
    readonly code: 'unknown-scenario' | 'unknown-target' | 'intruder-failed',
    message: string,
  ) {
    super(message);
  }
}

export interface AttackTarget {
  readonly service: string;
  readonly spiffeId: string;
  /** Where callers reach it with mutual TLS. */
  readonly meshPort: number;
  /** True when the service terminates mTLS itself: the mesh sees no server-side event, so the intruder's TLS alert is the evidence. */
  readonly native: boolean;
  /** A caller the policy allows, for the impersonation scenarios. */
  readonly allowedCaller?: string;
}

export interface AttackContext {
  readonly ca: CertificateAuthority;
  readonly bus: EventBus;
  readonly intruderScript: string;
  readonly node?: string;
  readonly timeoutMs?: number;
}

/** What the intruder process saw on the wire (sample-services/intruder/intruder.js). */
export interface IntruderReport {
  readonly scenario: string;
  readonly connected: boolean;
  readonly status: number | null;
  readonly body: unknown;
  readonly error: string | null;
  readonly tlsAlert: string | null;
  readonly detail?: string;
}

export interface AttackReport {
  readonly scenario: AttackScenario;
  readonly target: string;
  readonly rejected: boolean;
  /** The reason the mesh gave (server side), or the one the intruder's TLS alert implies for a native target. */
  readonly reason: RejectReason | null;
  readonly expectedReason: RejectReason;
  readonly detail: string;
  readonly intruder: IntruderReport;
}

// OpenSSL alert descriptions a native service (which lets OpenSSL refuse) sends back.
const ALERT_REASONS: Record<string, RejectReason> = {
  'certificate required': 'no-client-cert',
  'handshake failure': 'no-client-cert',
  'unknown ca': 'unknown-ca',
  'certificate expired': 'expired',
  'bad certificate': 'not-an-svid',
};

function runIntruder(ctx: AttackContext, args: string[]): Promise<IntruderReport> {
  return new Promise((resolve, reject) => {
    execFile(ctx.node ?? process.execPath, [ctx.intruderScript, ...args], { timeout: (ctx.timeoutMs ?? 5_000) + 2_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as IntruderReport);
      } catch {
        reject(new AttackError('intruder-failed', `attack: the intruder process gave no report (${err?.message ?? 'no output'}${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}); check that ${ctx.intruderScript} exists and node can run it.`));
      }
    });
  });
}

/**
 * Runs one attack as a real separate process against `target` and judges it: rejected means the
 * intruder got no 2xx answer and the mesh said why with the expected reason (server-side event;
 * for a native target, the TLS alert the service sent). Emits an 'attack' event either way.
 */
export async function runAttack(scenario: AttackScenario, target: AttackTarget, ctx: AttackContext): Promise<AttackReport> {
  const work = mkdtempSync(join(tmpdir(), 'mtls-lab-intruder-'));
  const seen: RejectionEvent[] = [];
  const off = ctx.bus.on((e: MeshEvent) => {
    if (e.type === 'rejection' && e.side === 'server' && e.callee.service === target.service) seen.push(e);
  });
  try {
    const td = ctx.ca.trustDomain;
    const impersonated = SpiffeId.parse(target.allowedCaller ?? `${td.idString()}/ns/default/sa/frontend`);
    const args = [scenario, '--url', `${scenario === 'plaintext' ? 'http' : 'https'}://127.0.0.1:${target.meshPort}`, '--path', '/', '--timeout', String(ctx.timeoutMs ?? 5_000)];
    const material = (svidCa: CertificateAuthority, id: SpiffeId, now?: Date, ttlMs?: number): void => {
      const dir = join(work, 'svid');
      writeSvidFiles(dir, svidCa.issue({ id, now, ttlMs }), svidCa.bundlePem());
      args.push('--cert', join(dir, 'svid.pem'), '--key', join(dir, 'svid_key.pem'));
    };
    if (scenario === 'rogue-ca') {
      material(CertificateAuthority.create({ trustDomain: TrustDomain.parse(td.name) }), impersonated);
    } else if (scenario === 'expired-replay') {
      // A real SVID from the mesh's own CA for a real caller, as a thief would have copied it an
      // hour ago; its five-minute life ended long before the replay.
      material(ctx.ca, impersonated, new Date(Date.now() - 3_600_000), 300_000);
    } else if (scenario === 'unauthorized') {
      material(ctx.ca, SpiffeId.parse(`${td.idString()}/ns/default/sa/intruder`));
    }
    const intruder = await runIntruder(ctx, args);
    const expectedReason = EXPECTED_REASON[scenario];
    // A sidecar reports as it refuses; a native service's report arrives through its log, a moment later.
    const deadline = Date.now() + (target.native ? 2_000 : 100);
    while (!seen.some((e) => e.reason === expectedReason) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    const got2xx = intruder.status !== null && intruder.status >= 200 && intruder.status < 300;
    const serverEvent = seen.find((e) => e.reason === expectedReason) ?? seen[0];
    const reason: RejectReason | null = serverEvent?.reason ?? (intruder.tlsAlert ? (ALERT_REASONS[intruder.tlsAlert] ?? null) : (reasonFromBody(intruder.body) ?? null));
    const rejected = !got2xx && reason === expectedReason;
    const detail = rejected
      ? `The intruder ${STORY[scenario]}; ${target.service} refused it: ${(serverEvent?.detail ?? intruder.tlsAlert ?? reason ?? "").replace(/\.$/, "")}.`
      : got2xx
        ? `The intruder ${STORY[scenario]} and got HTTP ${intruder.status} from ${target.service}: the attack got through.`
        : `The intruder ${STORY[scenario]}; it was stopped, but with reason ${reason ?? 'none reported'} instead of ${expectedReason}.`;
    ctx.bus.emit({ type: 'attack', scenario, target: target.service, rejected, reason: reason ?? undefined, detail });
    return { scenario, target: target.service, rejected, reason, expectedReason, detail, intruder };
  } finally {
    off();
    rmSync(work, { recursive: true, force: true });
  }
}

function reasonFromBody(body: unknown): RejectReason | undefined {
  const r = (body as { reason?: unknown } | null)?.reason;
  return typeof r === 'string' ? (r as RejectReason) : undefined;
}
