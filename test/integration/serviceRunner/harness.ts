// A stand-in daemon for parentExit.test.ts, bundled with esbuild and run as its own process:
// starts one service with a ServiceRunner, prints {"pid"}, and on a line from stdin ends the way argv says.
//   node harness.cjs LOG_DIR SERVICE_JS PORT exit|throw|hang
import { EventBus } from '../../../src/core/events/bus.js';
import { ServiceRunner } from '../../../src/core/mesh/serviceRunner.js';

async function main(): Promise<void> {
  const [logDir, serviceJs, port, how] = process.argv.slice(2);
  if (!logDir || !serviceJs || !port || !how) throw new Error('harness: usage: harness.cjs LOG_DIR SERVICE_JS PORT exit|throw|hang');
  const runner = new ServiceRunner({ bus: new EventBus(), logDir });
  await runner.start({ name: 'svc', command: [process.execPath, serviceJs], cwd: logDir, env: { PORT: port }, readyPort: Number(port) });
  process.stdout.write(`${JSON.stringify({ pid: runner.pid('svc') })}\n`);
  // The test looks at the service first, then says "go" on stdin.
  process.stdin.once('data', () => {
    if (how === 'exit') process.exit(0);
    if (how === 'throw') throw new Error('harness: an uncaught error, as a buggy daemon would have');
  });
  // 'hang': wait to be killed.
  setInterval(() => undefined, 1_000);
}

void main();
