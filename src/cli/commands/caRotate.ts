import { CertificateAuthority } from '../../core/ca/authority.js';
import { readDaemonFile } from '../../daemon/daemonFile.js';
import { flag, parse, str } from '../args.js';
import { postCommand } from '../daemonClient.js';
import type { CliIo } from '../io.js';
import { resolveStateDir } from '../state.js';

const USAGE = 'mtls-lab ca rotate [--state DIR] [--json]';

/**
 * SPIRE's prepare → activate → retire. With a mesh running, the daemon does it live (every bundle
 * gets the new root before it signs). Without one, the new root is prepared and activated in the
 * state folder, and the old root stays in the bundle until the SVIDs it signed have expired.
 */
export async function caRotate(argv: readonly string[], io: CliIo): Promise<number> {
  const p = parse(argv, { state: { type: 'string' }, json: { type: 'boolean' } }, USAGE, { min: 0, max: 0 });
  const stateDir = resolveStateDir(str(p, 'state'), io);
  const info = readDaemonFile(stateDir);
  if (info) {
    const result = await postCommand(info, '/api/ca/rotate', {}, 300_000);
    io.out(flag(p, 'json') ? `${JSON.stringify(result)}\n` : `Rotated the CA of the running mesh: the new root is in every bundle and signs every SVID; the old one leaves when its last SVID expires.\n`);
    return 0;
  }
  const ca = CertificateAuthority.load(stateDir, { now: io.now() });
  const prepared = ca.prepare({ now: io.now() });
  const activated = ca.activate();
  // The previous root stays in the bundle until the SVIDs it signed expire; `up` retires it then.
  ca.persist(stateDir);
  if (flag(p, 'json')) {
    io.out(`${JSON.stringify({ prepared, activated, retireAt: ca.retireAt()?.toISOString() ?? null })}\n`);
    return 0;
  }
  const retireAt = ca.retireAt();
  io.out(
    [
      `Rotated the CA in ${stateDir}: root ${activated.serial} now signs.`,
      `  Bundle (sequence ${activated.sequence}): ${ca.authorities().filter((a) => a.state !== 'prepared').length} root(s); export it again with "mtls-lab ca bundle".`,
      retireAt ? `  The previous root stays trusted until ${retireAt.toISOString()}, when the last SVID it signed expires.` : '  The previous root signed nothing still valid and has left the bundle.',
      '',
    ].join('\n'),
  );
  return 0;
}
