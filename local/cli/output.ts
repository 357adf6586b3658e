/** How the operator CLI writes: lines to stdout and stderr, aligned tables, short durations. */

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Exit code and message of a run that cannot go on: 2 for a usage error, 1 for anything else. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    /** The usage text to print after the message (usage errors). */
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function duration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const s = Math.round(Math.abs(ms) / 1000);
  return s < 120
    ? `${sign}${s}s`
    : s < 7200
      ? `${sign}${Math.round(s / 60)}m`
      : `${sign}${Math.round(s / 3600)}h`;
}

/** Columns padded to the widest cell; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((cells) => cells[column]?.length ?? 0))) ?? [];
  return rows.map((cells) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

export function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
