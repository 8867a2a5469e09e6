// Fails (exit 1) when the project's TypeScript modules import each other in a cycle, naming each cycle.
// Type-only imports count: a cycle of types still ties two modules together (eslint's import-x/no-cycle
// skips them). Imports are read and resolved by the TypeScript compiler itself, as tsc resolves them.
import ts from 'typescript';

const config = ts.getParsedCommandLineOfConfigFile('tsconfig.json', {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
if (!config) throw new Error('cannot read tsconfig.json');
const files = new Set(config.fileNames);

/** Each module's imports that resolve to another module of the project. */
const edges = new Map();
for (const file of files) {
  const { importedFiles } = ts.preProcessFile(ts.sys.readFile(file) ?? '', true, true);
  const targets = importedFiles
    .map((i) => ts.resolveModuleName(i.fileName, file, config.options, ts.sys).resolvedModule?.resolvedFileName)
    .filter((target) => target !== undefined && files.has(target));
  edges.set(file, [...new Set(targets)]);
}

// Tarjan's strongly connected components: every component of more than one module (or a module that
// imports itself) is a cycle.
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function visit(v) {
  index.set(v, index.size);
  low.set(v, index.get(v));
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v), index.get(w)));
    }
  }
  if (low.get(v) === index.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || edges.get(v).includes(v)) cycles.push(component);
  }
}
for (const file of files) if (!index.has(file)) visit(file);

const cwd = `${process.cwd()}/`;
for (const cycle of cycles) console.error(`import cycle among: ${cycle.map((f) => f.replace(cwd, '')).sort().join(', ')}`);
if (cycles.length > 0) process.exit(1);
console.log(`no import cycle in ${files.size} modules`);
