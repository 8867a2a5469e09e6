// The bench starts the service with the node flags of `npm start`, read from package.json.
import { readFileSync } from 'node:fs';
import { startFlags } from './service.js';

describe('startFlags', () => {
  it('takes the flags between node and the entry point', () => {
    expect(startFlags('node --max-semi-space-size=4 dist/src/main.js')).toEqual(['--max-semi-space-size=4']);
    expect(startFlags('node dist/src/main.js')).toEqual([]);
  });

  it('refuses a start script it cannot read', () => {
    expect(() => startFlags('nest start')).toThrow(/does not run node/);
    expect(() => startFlags('node dist/other.js')).toThrow(/dist\/src\/main.js/);
  });

  it('reads the start script of this package.json', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
    expect(() => startFlags(pkg.scripts.start)).not.toThrow();
  });
});
