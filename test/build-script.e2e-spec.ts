// `npm start` runs scripts/build.mjs first: it builds when there is no build or an input changed, and
// skips the build when nothing did. Run here on a one-file project shaped like this one (same nest-cli
// and tsconfig layout, this repository's node_modules), with the real `nest build`.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

describe('scripts/build.mjs: build only when stale', () => {
  let dir: string;
  const run = (...args: string[]) => spawnSync(process.execPath, ['scripts/build.mjs', ...args], { cwd: dir, encoding: 'utf8' });
  const check = () => run('--check').stdout.trim();
  const edit = (file: string, change: (text: string) => string) => writeFileSync(join(dir, file), change(readFileSync(join(dir, file), 'utf8')));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tokenmeter-build-'));
    mkdirSync(join(dir, 'scripts'));
    mkdirSync(join(dir, 'src'));
    cpSync(join(repo, 'scripts/build.mjs'), join(dir, 'scripts/build.mjs'));
    cpSync(join(repo, 'nest-cli.json'), join(dir, 'nest-cli.json'));
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'probe', type: 'module', private: true }));
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'probe', lockfileVersion: 3 }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'es2023', module: 'nodenext', rootDir: '.', outDir: 'dist', strict: true, types: [] } }),
    );
    writeFileSync(join(dir, 'tsconfig.build.json'), JSON.stringify({ extends: './tsconfig.json', include: ['src'], exclude: ['**/*.spec.ts'] }));
    writeFileSync(join(dir, 'src/main.ts'), 'export const answer: number = 1;\n');
    writeFileSync(join(dir, 'src/main.spec.ts'), 'export {};\n');
    writeFileSync(join(dir, 'README.md'), '# probe\n');
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the first time, then skips while nothing changes, and builds again after a source change', () => {
    expect(check()).toBe('build: stale');
    const first = run();
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('nest build');
    expect(readFileSync(join(dir, 'dist/src/main.js'), 'utf8')).toContain('answer = 1');
    expect(check()).toBe('build: current');

    const built = statSync(join(dir, 'dist/src/main.js')).mtimeMs;
    const again = run();
    expect(again.status).toBe(0);
    expect(again.stdout.trim()).toBe('build: current (no input changed since the last build)');
    expect(statSync(join(dir, 'dist/src/main.js')).mtimeMs).toBe(built);

    edit('src/main.ts', (text) => text.replace('= 1', '= 2'));
    expect(check()).toBe('build: stale');
    const rebuilt = run();
    expect(rebuilt.status).toBe(0);
    expect(rebuilt.stdout).toContain('nest build');
    expect(readFileSync(join(dir, 'dist/src/main.js'), 'utf8')).toContain('answer = 2');
    expect(check()).toBe('build: current');
  }, 120_000);

  it('sees every input: sources, tsconfigs, package.json, package-lock.json, nest-cli.json; nothing else', () => {
    expect(check()).toBe('build: current');
    // A new time on an unchanged file, a file the build does not read, a test it excludes: still current.
    utimesSync(join(dir, 'src/main.ts'), new Date(), new Date(Date.now() + 60_000));
    edit('README.md', (text) => `${text}more\n`);
    edit('src/main.spec.ts', (text) => `${text}// changed\n`);
    expect(check()).toBe('build: current');
    for (const file of ['src/main.ts', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json', 'nest-cli.json']) {
      const before = readFileSync(join(dir, file), 'utf8');
      edit(file, (text) => (file.endsWith('.ts') ? `${text}// changed\n` : `${text}\n`));
      expect([file, check()]).toEqual([file, 'build: stale']);
      writeFileSync(join(dir, file), before);
      expect([file, check()]).toEqual([file, 'build: current']);
    }
    // A new source file is an input too.
    writeFileSync(join(dir, 'src/extra.ts'), 'export const more = 1;\n');
    expect(check()).toBe('build: stale');
    rmSync(join(dir, 'src/extra.ts'));
    // And a build that is gone is stale, whatever the stamp says.
    rmSync(join(dir, 'dist/src/main.js'));
    expect(check()).toBe('build: stale');
  }, 180_000);

  it('is what npm start runs first, and npm run build always builds', () => {
    const scripts = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(scripts.prestart).toBe('node scripts/build.mjs');
    expect(scripts.build).toBe('node scripts/build.mjs --always');
    // The repository's own inputs list is the build's: every compiled source, none of the tests.
    const inputs = execFileSync(process.execPath, ['--input-type=module', '-e', `import { buildInputs } from ${JSON.stringify(join(repo, 'scripts/build.mjs'))}; console.log(JSON.stringify(buildInputs(${JSON.stringify(repo)})))`], {
      encoding: 'utf8',
    });
    const files = JSON.parse(inputs) as string[];
    expect(files).toEqual(expect.arrayContaining(['src/main.ts', 'metering/ingest/event-input.ts', 'migrations/index.ts', 'test/bench/run.ts', 'package-lock.json', 'tsconfig.json']));
    expect(files.filter((f) => (f.endsWith('.spec.ts') && !f.startsWith('console/')) || f.startsWith('test/support/'))).toEqual([]);
    // The web console's sources are inputs too: a change there rebuilds it, none leaves it as it is.
    expect(files).toEqual(expect.arrayContaining(['console/index.html', 'console/vite.config.ts', 'console/src/main.tsx', 'console/src/styles.css']));
  });
});
