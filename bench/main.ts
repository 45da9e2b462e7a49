// `npm run bench [-- --json] [--quick] [--budget MS] [--only a,b]`: runs each registered section in
// this one process, one after another, and prints its table, or one JSON document keyed by section.
import { cpus } from 'node:os';
import { graphSection } from './graph.js';
import { DEFAULT_BUDGET_MS, issuanceSection } from './issuance.js';
import { rotationSection } from './rotation.js';
import { sidecarSection } from './sidecar.js';

const QUICK_BUDGET_MS = 300;

interface SectionOptions {
  /** Timed wall-clock budget for each measured path of the section. */
  readonly budgetMs: number;
  /** `--quick`: sections whose length is not a per-path budget (rotation waits for real TTLs) pick their short form. */
  readonly quick: boolean;
  readonly progress: (line: string) => void;
}

/** A benchmark section: later ones (sidecar, rotation, graph) join the registry below. */
interface BenchSection {
  /** The section's key in the JSON document. */
  readonly name: string;
  run(o: SectionOptions): Promise<{ readonly json: unknown; readonly text: string }>;
}

const SECTIONS: readonly BenchSection[] = [issuanceSection, sidecarSection, rotationSection, graphSection];

interface Args {
  readonly json: boolean;
  readonly budgetMs: number;
  readonly quick: boolean;
  readonly only: readonly BenchSection[];
}

const USAGE = `usage: node dist/bench.js [--json] [--quick | --budget MS] [--only ${SECTIONS.map((s) => s.name).join(',')}]
  --json     print one JSON document instead of tables
  --quick    ${QUICK_BUDGET_MS} ms per measured path instead of ${DEFAULT_BUDGET_MS} ms, and the short rotation run (TTL 10 s)
  --budget   milliseconds per measured path
  --only     run only these sections`;

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Args | 'help' {
  let json = false;
  let budgetMs = DEFAULT_BUDGET_MS;
  let quick = false;
  let only: readonly BenchSection[] = SECTIONS;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`bench: ${arg} needs a value.`);
      return v;
    };
    if (arg === '--json') json = true;
    else if (arg === '--quick') {
      budgetMs = QUICK_BUDGET_MS;
      quick = true;
    } else if (arg === '--budget') {
      const text = value();
      budgetMs = Number(text);
      if (!Number.isFinite(budgetMs) || budgetMs <= 0) throw new UsageError(`bench: --budget takes a positive number of milliseconds, not "${text}"; e.g. --budget 500.`);
    } else if (arg === '--only') {
      const names = value().split(',').map((n) => n.trim()).filter((n) => n !== '');
      only = names.map((name) => {
        const s = SECTIONS.find((x) => x.name === name);
        if (!s) throw new UsageError(`bench: there is no section "${name}"; choose from ${SECTIONS.map((x) => x.name).join(', ')}.`);
        return s;
      });
    } else if (arg === '--help' || arg === '-h') return 'help';
    else throw new UsageError(`bench: unknown option "${arg ?? ''}".\n${USAGE}`);
  }
  return { json, budgetMs, quick, only };
}

function header(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `mTLS Lab benchmarks — node ${process.version}, OpenSSL ${process.versions.openssl} (node:crypto), ${cpu}; one section at a time in one process`;
}

async function main(): Promise<number> {
  let args: Args | 'help';
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // Progress goes to stderr, and only to a terminal: stdout stays the report alone.
  const progress = process.stderr.isTTY ? (line: string): void => void process.stderr.write(`… ${line}\n`) : (): void => undefined;
  const doc: Record<string, unknown> = {};
  const texts: string[] = [];
  for (const section of args.only) {
    const report = await section.run({ budgetMs: args.budgetMs, quick: args.quick, progress });
    doc[section.name] = report.json;
    texts.push(report.text);
  }
  if (args.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  else process.stdout.write(`${header()}\n\n${texts.join('\n\n')}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
