import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The package root: dist/cli.js lives one level below it, the sources two. Found by looking for
 * sample-services/ so it works from the bundle, from the sources under vitest, and from a .vsix.
 */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'sample-services', 'mtls-lab.json'))) return dir;
    dir = dirname(dir);
  }
  return join(__dirname, '..');
}

export const sampleConfigPath = (): string => join(packageRoot(), 'sample-services', 'mtls-lab.json');
export const intruderScriptPath = (): string => join(packageRoot(), 'sample-services', 'intruder', 'intruder.js');
export const trafficScriptPath = (): string => join(packageRoot(), 'sample-services', 'traffic', 'traffic.js');
