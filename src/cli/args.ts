import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

/** Strict option parsing; every mistake becomes a UsageError that names the command's usage. */
export function parse(argv: readonly string[], options: Options, usage: string, positionals: { min: number; max: number }): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true }) as Parsed;
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/\.?$/, '') : String(err);
    throw new UsageError(`${why}; usage: ${usage}`);
  }
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError(`missing argument; usage: ${usage}`);
  if (n > positionals.max) throw new UsageError(`unexpected argument "${parsed.positionals[positionals.max]}"; usage: ${usage}`);
  return parsed;
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function strs(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}
