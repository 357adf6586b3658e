/** The machine a benchmark ran on, for the report. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';

export interface Machine {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memory: string;
  readonly node: string;
  readonly platform: string;
  readonly loadAverage: string;
  /** The code measured: `git rev-parse --short HEAD`, `+dirty` when functions/ or local/ have uncommitted changes. */
  readonly commit: string;
}

function run(command: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

export function describeMachine(): Machine {
  let cpuModel = 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1] !== undefined) cpuModel = match[1].trim();
  } catch {
    // not Linux
  }
  const free = run('free', ['-h'])?.split('\n')[1]?.split(/\s+/);
  let loadAverage = 'unknown';
  try {
    loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    // not Linux
  }
  const head = run('git', ['rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const dirty = (run('git', ['status', '--porcelain', '--', 'functions', 'local']) ?? '') !== '';
  return {
    commit: `${head}${dirty ? '+dirty' : ''}`,
    nproc: Number(run('nproc', []) ?? availableParallelism()),
    cpuModel,
    memory:
      free === undefined
        ? `${(totalmem() / 2 ** 30).toFixed(1)} GiB`
        : `${free[1]} total, ${free[6] ?? '?'} available (free -h)`,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage,
  };
}

/** CPU seconds (user + system) a process has used so far; Linux only, else NaN. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the state field.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100;
  } catch {
    return Number.NaN;
  }
}
