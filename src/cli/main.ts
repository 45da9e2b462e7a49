import { caBundle, caInit } from './commands/ca.js';
import { inspect } from './commands/inspect.js';
import { issue } from './commands/issue.js';
import { verify } from './commands/verify.js';
import { runCli } from './run.js';

runCli(process.argv.slice(2), { caInit, caBundle, issue, inspect, verify }).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
