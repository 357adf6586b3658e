/**
 * Every Markdown table in README.md and docs/*.md renders as its author meant: GitHub splits a row
 * on every `|` that is not escaped as `\|`, even inside a code span, so a stray `|` in a cell shifts
 * the rest of the row into the wrong columns (or drops it) without any error.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The delimiter row under a table's header: `| --- | :--: | ---: |`. */
const DELIMITER = /^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$/;

/** A row's cells, split as GitHub splits them: on every `|` not escaped by a backslash. */
function cells(row: string): string[] {
  const trimmed = row
    .trim()
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '');
  return trimmed.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

interface TableProblem {
  readonly line: number;
  readonly expected: number;
  readonly found: number;
  readonly row: string;
}

/** Rows whose cell count differs from their table's header, outside fenced code blocks. */
function tableProblems(markdown: string): { tables: number; problems: TableProblem[] } {
  const lines = markdown.split('\n');
  const problems: TableProblem[] = [];
  let tables = 0;
  let fence: string | undefined;
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index] ?? '';
    const opening = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (opening !== undefined) {
      if (fence === undefined) fence = opening;
      else if (line.trim().startsWith(fence)) fence = undefined;
      continue;
    }
    if (fence !== undefined || !line.trimStart().startsWith('|')) continue;
    const delimiter = lines[index + 1] ?? '';
    if (!DELIMITER.test(delimiter.trim())) continue;
    tables += 1;
    const expected = cells(line).length;
    let at = index + 1;
    for (; at < lines.length && (lines[at] ?? '').trimStart().startsWith('|'); at += 1) {
      const row = lines[at] ?? '';
      const found = cells(row).length;
      if (found !== expected) problems.push({ line: at + 1, expected, found, row: row.trim() });
    }
    index = at - 1;
  }
  return { tables, problems };
}

describe('Markdown tables', () => {
  it('the check itself finds a `|` inside a cell and a missing cell, and accepts `\\|`', () => {
    const broken = [
      '| alarm | when |',
      '| ----- | ---- |',
      '| `<Mint|Sweep>FunctionErrors` | errors |',
      '| only one cell |',
      '| `a \\| b` | escaped, fine |',
      '',
      '```',
      '| not | a | table |',
      '| --- |',
      '```',
    ].join('\n');
    const { tables, problems } = tableProblems(broken);
    expect(tables).toBe(1);
    expect(problems.map((problem) => [problem.line, problem.found])).toEqual([
      [3, 3],
      [4, 1],
    ]);
  });

  it.each(FILES)('%s: every row has as many cells as its header', (file) => {
    const { tables, problems } = tableProblems(readFileSync(join(ROOT, file), 'utf8'));
    const described = problems.map(
      (problem) => `${file}:${problem.line}: ${problem.found} cells, header has ${problem.expected}`,
    );
    expect(described).toEqual([]);
    // The README and the deploy guide are mostly tables: finding none means the parser broke.
    if (file === 'README.md' || file === 'docs/deploy.md') expect(tables).toBeGreaterThan(3);
  });
});
