import { caBundle, caInit } from './commands/ca.js';
import { inspect } from './commands/inspect.js';
import { issue } from './commands/issue.js';
import { verify } from './commands/verify.js';
import { attack } from './commands/attack.js';
import { caRotate } from './commands/caRotate.js';
import { up } from './commands/up.js';
import { runCli } from './run.js';

runCli(process.argv.slice(2), { caInit, caBundle, caRotate, issue, inspect, verify, up: (argv, io) => up(argv, io), attack }).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
