/** Number formats and Markdown tables for docs/BENCHMARKS.md. */

export const fixed = (value: number, digits = 2): string =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';
export const int = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
export const usd = (value: number): string =>
  value >= 0.1 ? `$${fixed(value, 2)}` : `$${value.toPrecision(2)}`;
export const ms = (value: number): string =>
  value < 0.1 ? `${fixed(value * 1000, 1)} µs` : `${fixed(value, value < 10 ? 2 : 1)} ms`;

export function table(
  header: readonly string[],
  align: readonly ('l' | 'r')[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(header),
    line(align.map((side) => (side === 'r' ? '---:' : '---'))),
    ...rows.map((row) => line(row)),
  ].join('\n');
}

/**
 * A Markdown table padded the way Biome formats one (cells padded to their column's width, aligned
 * as the column is), for documents the benchmark writes into without reformatting the whole file.
 */
export function paddedTable(
  header: readonly string[],
  align: readonly ('l' | 'r')[],
  rows: readonly (readonly string[])[],
): string {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(3, ...all.map((row) => [...(row[column] ?? '')].length)));
  const cell = (text: string, column: number) => {
    const pad = ' '.repeat((widths[column] as number) - [...text].length);
    return align[column] === 'r' ? `${pad}${text}` : `${text}${pad}`;
  };
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = widths.map((width, column) =>
    align[column] === 'r' ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width),
  );
  return [line(header), `| ${rule.join(' | ')} |`, ...rows.map((row) => line(row))].join('\n');
}
