import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('examples', () => {
  it('notebook.ipynb is a valid nbformat 4 notebook that ranks over HTTP and charts the top tasks', () => {
    const notebook = JSON.parse(readFileSync(`${root}examples/notebook.ipynb`, 'utf8'));
    expect(notebook.nbformat).toBe(4);
    expect(notebook.nbformat_minor).toBeGreaterThanOrEqual(0);
    expect(notebook.metadata.kernelspec.language).toBe('python');
    for (const cell of notebook.cells) {
      expect(['markdown', 'code']).toContain(cell.cell_type);
      expect(Array.isArray(cell.source)).toBe(true);
      if (cell.cell_type === 'code') expect(cell).toMatchObject({ outputs: [], execution_count: null });
    }
    const code = notebook.cells
      .filter((c: { cell_type: string }) => c.cell_type === 'code')
      .map((c: { source: string[] }) => c.source.join(''))
      .join('\n');
    for (const needed of ['import requests', 'import pandas', '/v1/rankings', 'plot.barh']) expect(code).toContain(needed);
  });

  it('rank.mjs ranks the demo target with the built library and prints a table and a bar chart', () => {
    // dist/ is built by `npm ci` (prepare) and `npm run build`.
    expect(existsSync(`${root}dist/index.js`)).toBe(true);
    const output = execFileSync(process.execPath, ['examples/rank.mjs'], { cwd: root, encoding: 'utf8' });
    expect(output).toMatch(/│ rank │ task_id/);
    const bars = output.split('\n').filter((line) => /^demo\/\S+\s+█+ -?\d/.test(line));
    expect(bars).toHaveLength(5);
  });
});
