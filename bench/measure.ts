// Shared timing for the benchmark sections: wall clock and CPU of this process (all threads, plus
// waited-for children) around a loop, and the CPU of other processes read from /proc, so a section
// that runs a server in a child process can say what that process spent.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** One path's run. CPU covers every thread of this process plus the child processes it waited for. */
export interface Measurement {
  readonly ops: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  /** The part of `cpuMs` spent in child processes (the openssl CLI); 0 where it cannot be read. */
  readonly childCpuMs: number;
  readonly perSec: number;
  readonly usPerOp: number;
  readonly cpuUsPerOp: number;
  /** cpuMs / wallMs: about 1 for a path that keeps one core busy. */
  readonly cores: number;
  /** What one op produces (certificate and key, as written): shows the paths make like output. */
  readonly outputBytesPerOp: number;
}

export interface Budget {
  readonly budgetMs: number;
  readonly warmupMs: number;
  /** Keep going past the budget until this many ops are done (RSA keygen is slow and uneven). */
  readonly minOps: number;
}

interface Mark {
  readonly wall: number;
  readonly cpu: NodeJS.CpuUsage;
  readonly childUs: number;
}

// /proc/self/stat fields 16 and 17 (cutime, cstime): CPU of waited-for children, in USER_HZ ticks
// (100 a second on Linux), so the openssl CLI's own work is counted and not just our spawning.
function childCpuUs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) * 10_000 || 0;
  } catch {
    return 0;
  }
}

function mark(): Mark {
  return { wall: performance.now(), cpu: process.cpuUsage(), childUs: childCpuUs() };
}

function since(start: Mark, ops: number, bytes: number): Measurement {
  const wallMs = performance.now() - start.wall;
  const cpu = process.cpuUsage(start.cpu);
  const childMs = (childCpuUs() - start.childUs) / 1000;
  const cpuMs = (cpu.user + cpu.system) / 1000 + childMs;
  return {
    ops,
    wallMs: round(wallMs, 1),
    cpuMs: round(cpuMs, 1),
    childCpuMs: round(childMs, 1),
    perSec: round((ops * 1000) / wallMs, 1),
    usPerOp: round((wallMs * 1000) / ops, 2),
    cpuUsPerOp: round((cpuMs * 1000) / ops, 2),
    cores: round(cpuMs / wallMs, 2),
    outputBytesPerOp: Math.round(bytes / ops),
  };
}

/**
 * Runs `step` for the warm-up, then counts how many complete in the budget (at least `minOps`).
 * `step` returns the bytes it produced; summing them keeps every result in use.
 */
export function measureSync(step: () => number, b: Budget): Measurement {
  const warmEnd = performance.now() + b.warmupMs;
  do step();
  while (performance.now() < warmEnd);
  const start = mark();
  const deadline = start.wall + b.budgetMs;
  let ops = 0;
  let bytes = 0;
  do {
    bytes += step();
    ops++;
  } while (ops < b.minOps || performance.now() < deadline);
  return since(start, ops, bytes);
}

/** `measureSync` for a step that returns a promise: one at a time, each awaited before the next. */
export async function measureAsync(step: () => Promise<number>, b: Budget): Promise<Measurement> {
  const warmEnd = performance.now() + b.warmupMs;
  do await step();
  while (performance.now() < warmEnd);
  const start = mark();
  const deadline = start.wall + b.budgetMs;
  let ops = 0;
  let bytes = 0;
  do {
    bytes += await step();
    ops++;
  } while (ops < b.minOps || performance.now() < deadline);
  return since(start, ops, bytes);
}


/** `value` rounded to `digits` fraction digits. */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Other processes

/** Linux's USER_HZ: /proc reports CPU in ticks of 10 ms. */
const TICK_MS = 10;

/**
 * CPU time (user + system, ms) a live process has used since it started, read from
 * /proc/PID/stat; undefined when the process is gone or /proc cannot be read. The resolution is
 * one tick (10 ms), so read it over windows of a second or more.
 */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * TICK_MS : undefined;
  } catch {
    return undefined;
  }
}

/** The IDs of `pid`'s live child processes (e.g. nginx's worker under its master). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

/** CPU ms a process group of interest spent, as one sum over its processes. */
export function totalCpuMs(pids: readonly number[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    const ms = processCpuMs(pid);
    if (ms === undefined) return undefined;
    sum += ms;
  }
  return sum;
}

/** This process's CPU (all threads), ms. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU spent over one wall-clock window, and how many cores that kept busy on average. */
export interface CpuWindow {
  readonly ms: number;
  /** ms / window length: 1 is one core busy the whole time. */
  readonly cores: number;
}

/** `cpuMs` over a window of `wallMs`, rounded for a report. */
export function cpuWindow(cpuMs: number, wallMs: number): CpuWindow {
  return { ms: round(cpuMs, 1), cores: wallMs > 0 ? round(cpuMs / wallMs, 3) : 0 };
}
