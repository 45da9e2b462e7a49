// Slow (real processes, ~seconds): the extension's Lab against the real `mtls-lab up` from
// dist/cli.js with the sample mesh: started as a child, the snapshot relayed, an impostor
// rejected with its reason, and everything stopped (daemon.json gone) on dispose.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../../src/daemon/daemonFile.js';
import { currentRuntime } from '../../../src/extension/cliRunner.js';
import { Lab } from '../../../src/extension/lab.js';
import { PanelRelay } from '../../../src/extension/panelRelay.js';
import { containsKeyMaterial } from '../../../src/extension/keyMaterial.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { eventually } from './fakeMesh.js';

const cli = join(__dirname, '..', '..', '..', 'dist', 'cli.js');
const hasUp = existsSync(cli) && readFileSync(cli, 'utf8').includes('Dashboard: ');
const dir = mkdtempSync(join(tmpdir(), 'mtls-ext-real-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasUp)('Lab with the real daemon (slow)', () => {
  it('starts the sample mesh, relays it, stages an impostor, and stops it all', async () => {
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
    const lab = new Lab({ runtime: currentRuntime(), cliPath: cli, log });
    const stateDir = join(dir, 'state');
    try {
      expect(await lab.start({ stateDir, ttl: '2m' })).toBe('owned');
      const pid = lab.endpoint?.pid as number;
      expect(isProcessAlive(pid)).toBe(true);
      expect(existsSync(join(stateDir, 'daemon.json'))).toBe(true);
      expect(lines.join('\n')).not.toContain(lab.endpoint?.token as string);
      await eventually(() => (lab.store.snapshot?.services.length ?? 0) >= 5, 30_000);

      const posted: ServerMessage[] = [];
      const relay = new PanelRelay({ store: lab.store, execute: (c) => lab.command(c), post: (m) => posted.push(m) });
      relay.receiveFromPage({ type: 'ready' });
      expect(posted[0]?.type).toBe('mesh/snapshot');

      const outcome = await lab.command({ name: 'attack', scenario: 'impostor-no-cert' });
      expect(outcome.ok).toBe(true);
      expect(outcome.result).toMatchObject({ rejected: true, reason: 'no-client-cert' });
      await eventually(() => lab.store.rejected > 0, 10_000);
      expect(posted.some(containsKeyMaterial)).toBe(false);
      relay.dispose();

      await lab.dispose();
      expect(isProcessAlive(pid)).toBe(false);
      expect(existsSync(join(stateDir, 'daemon.json'))).toBe(false);
    } finally {
      await lab.dispose();
    }
  }, 60_000);
});
