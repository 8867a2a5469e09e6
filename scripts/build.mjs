// `npm start` builds only when the build is stale: a SHA-256 of everything the build reads (the files
// tsconfig.build.json takes in, the tsconfigs, package.json, package-lock.json, nest-cli.json, this
// script, and the web console's sources under console/) is written next to the output after each
// successful build and compared before the next. The console (React, Vite) is built after `nest build`
// into <outDir>/console, which the service serves at /console.
// Contents, not modification times: a checkout, a copy or an unpack that keeps old times is still seen.
//   node scripts/build.mjs            build if the inputs changed since the last build (or none exists)
//   node scripts/build.mjs --always   build in any case (`npm run build`)
//   node scripts/build.mjs --check    only say whether the build is current (exit 0) or stale (exit 1)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, globSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const GLOB = /[*?[{]/;

/** A tsconfig's `include` / `exclude` entry as a glob: a bare folder means everything below it. */
function asGlob(entry, root) {
  if (GLOB.test(entry)) return entry;
  const full = join(root, entry);
  return existsSync(full) && statSync(full).isFile() ? entry : `${entry.replace(/\/+$/, '')}/**/*`;
}

/** A tsconfig and the ones it extends, nearest first (relative `extends` only, as this project uses). */
function configChain(file) {
  const chain = [];
  for (let current = file; current !== null; ) {
    chain.push(current);
    const config = JSON.parse(readFileSync(current, 'utf8'));
    const parent = typeof config.extends === 'string' && config.extends.startsWith('.') ? resolve(dirname(current), config.extends) : null;
    current = parent === null ? null : parent.endsWith('.json') ? parent : `${parent}.json`;
  }
  return chain;
}

/** The build's configuration: nest-cli.json, and the tsconfig it names with the ones that one extends. */
function buildConfig(root) {
  const nest = JSON.parse(readFileSync(join(root, 'nest-cli.json'), 'utf8'));
  const tsconfig = join(root, nest.compilerOptions?.tsConfigPath ?? 'tsconfig.json');
  const chain = configChain(tsconfig);
  // The nearest config that sets a key decides it, as in TypeScript (outDir relative to its own file).
  const nearest = (pick) => {
    for (const file of chain) {
      const value = pick(JSON.parse(readFileSync(file, 'utf8')));
      if (value !== undefined) return { value, dir: dirname(file) };
    }
    return { value: undefined, dir: dirname(tsconfig) };
  };
  const out = nearest((config) => config.compilerOptions?.outDir);
  return { nest, tsconfig, chain, nearest, outDir: resolve(out.dir, out.value ?? '.') };
}

/** The web console, when this project has one: its Vite config and where it is built to. */
function consoleApp(root, outDir) {
  const config = join(root, 'console/vite.config.ts');
  return existsSync(config) ? { config, out: join(outDir, 'console') } : null;
}

/** The console's sources: everything under console/ but installed or built files. */
function consoleInputs(root) {
  if (!existsSync(join(root, 'console/vite.config.ts'))) return [];
  return globSync('console/**/*', { cwd: root, exclude: ['console/node_modules', 'console/dist'] })
    .map((file) => join(root, file))
    .filter((file) => statSync(file).isFile());
}

/** Every file the build reads, relative to `root`, sorted. */
export function buildInputs(root) {
  const { tsconfig, chain, nearest } = buildConfig(root);
  const named = (key) => nearest((config) => config[key]).value ?? [];
  const base = dirname(tsconfig);
  const sources = globSync(named('include').map((entry) => asGlob(entry, base)), {
    cwd: base,
    exclude: named('exclude').map((entry) => asGlob(entry, base).replace(/\/\*$/, '')),
  })
    .map((file) => join(base, file))
    .filter((file) => statSync(file).isFile());
  const fixed = [...chain, 'package.json', 'package-lock.json', 'nest-cli.json', fileURLToPath(import.meta.url)]
    .map((file) => resolve(root, file))
    .filter((file) => existsSync(file));
  return [...new Set([...sources, ...fixed, ...consoleInputs(root)].map((file) => relative(root, file)))].sort();
}

/** One digest of the inputs' names and contents. */
export function inputsDigest(root) {
  const hash = createHash('sha256');
  for (const file of buildInputs(root)) {
    hash.update(file).update('\0').update(readFileSync(join(root, file))).update('\0');
  }
  return hash.digest('hex');
}

function main() {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const { nest, outDir } = buildConfig(root);
  const stamp = join(outDir, '.build-inputs.sha256');
  const entry = join(outDir, `${nest.entryFile ?? 'main'}.js`);
  const digest = inputsDigest(root);
  const always = process.argv.includes('--always');
  const app = consoleApp(root, outDir);
  const built = existsSync(entry) && (app === null || existsSync(join(app.out, 'index.html')));
  const current = built && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === digest;
  if (process.argv.includes('--check')) {
    console.log(current ? 'build: current' : 'build: stale');
    process.exit(current ? 0 : 1);
  }
  if (!always && current) {
    console.log('build: current (no input changed since the last build)');
    return;
  }
  console.log(always ? 'build: nest build' : 'build: inputs changed since the last build (or there is none): nest build');
  const cli = createRequire(join(root, 'package.json')).resolve('@nestjs/cli/bin/nest.js');
  const run = spawnSync(process.execPath, [cli, 'build'], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
  if (app !== null) {
    // After nest build, which empties the output folder first.
    console.log('build: vite build (the web console)');
    const vite = join(dirname(createRequire(join(root, 'package.json')).resolve('vite/package.json')), 'bin/vite.js');
    const web = spawnSync(process.execPath, [vite, 'build', '--config', app.config, '--outDir', app.out, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: root,
      stdio: 'inherit',
    });
    if (web.status !== 0) process.exit(web.status ?? 1);
  }
  // The digest from before the build: an input changed during it makes the next start build again.
  writeFileSync(stamp, `${digest}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
