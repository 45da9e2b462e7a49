import { isAttackScenario, ATTACK_SCENARIOS } from '../../protocol/messages.js';
import type { AttackReport } from '../../core/attacks/attacks.js';
import { flag, parse, str } from '../args.js';
import { requireDaemon, postCommand } from '../daemonClient.js';
import { UsageError, type CliIo } from '../io.js';
import { resolveStateDir } from '../state.js';

const USAGE = 'mtls-lab attack SCENARIO [--target SERVICE] [--state DIR] [--json]';

/** Runs an attack against the running mesh: exit 0 when the mesh rejected it with the expected reason, 1 when it got through. */
export async function attack(argv: readonly string[], io: CliIo): Promise<number> {
  const p = parse(argv, { target: { type: 'string' }, state: { type: 'string' }, json: { type: 'boolean' } }, USAGE, { min: 1, max: 1 });
  const scenario = p.positionals[0] as string;
  if (!isAttackScenario(scenario)) throw new UsageError(`unknown attack "${scenario}"; use one of: ${ATTACK_SCENARIOS.join(', ')}.`);
  const info = requireDaemon(resolveStateDir(str(p, 'state'), io));
  const target = str(p, 'target');
  const report = (await postCommand(info, '/api/attack', { scenario, ...(target ? { target } : {}) })) as AttackReport;
  if (flag(p, 'json')) {
    io.out(`${JSON.stringify(report)}\n`);
  } else {
    io.out(`${report.rejected ? 'REJECTED' : 'GOT THROUGH'} ${report.scenario} → ${report.target}: reason ${report.reason ?? 'none'} (expected ${report.expectedReason})\n${report.detail}\n`);
  }
  return report.rejected ? 0 : 1;
}
