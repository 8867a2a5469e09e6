// The meter readings the README's "Readings" section shows as fast: every `group_by` value in the first
// column of its table. `npm run bench` measures exactly these, and readme-readings.spec.ts checks that each
// is summed from a small rollup, so the README, the bench and the rollups cannot drift apart.
import { readFileSync } from 'node:fs';
import { parseGroupBy, type GroupByDim } from '../../metering/readings/reading-query.js';

export function readmeReadings(readme: string = readFileSync('README.md', 'utf8')): GroupByDim[][] {
  const section = /^## Readings\n([\s\S]*?)(?=^#|(?![\s\S]))/m.exec(readme)?.[1];
  if (section === undefined) throw new Error('README.md has no "## Readings" section');
  const readings: GroupByDim[][] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) continue;
    const first = line.split('|')[1] ?? '';
    for (const [, code] of first.matchAll(/`([^`]+)`/g)) if (code !== 'group_by') readings.push(parseGroupBy(code));
  }
  return readings;
}
