// The import rules of ARCHITECTURE.md, checked by `npm run lint` (`depcruise`). Data flows one way:
// io → embed → esm/logme → rank (+ first stage) → store → jobs → server/cli, and a module imports only
// from its own layer or below (the table is ARCHITECTURE.md's).
//
// To add a folder to src/, put it in its layer below; a folder in no layer is free of the layer rules,
// so an unplaced one is a hole: `src-folder-in-a-layer` reports it.

/** The layers, bottom to top: [name, folders (or base files) under src/]. */
const LAYERS = [
  ['base', ['errors.ts', 'config.ts', 'random.ts']],
  ['maths, files and formats', ['linalg/', 'io/', 'tf/', 'native/', 'task/']],
  ['the Hugging Face Hub', ['hub/']],
  ['datasets and embeddings', ['dataset/', 'embed/']],
  ['ESMs and LogME', ['esm/', 'logme/']],
  ['ranking and fine-tuning', ['rank/', 'finetune/']],
  ['persistence', ['store/']],
  ['the first stage', ['retrieval/']],
  ['registry services', ['registry/']],
  ['batch ranking', ['batch/']],
  ['jobs', ['jobs/']],
  ['shells', ['server/', 'cli/']],
];

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const pathsOf = (entries) => `^src/(${entries.map(escapeRegExp).join('|')})`;

const layerRules = LAYERS.slice(0, -1).map(([name, entries], n) => {
  const above = LAYERS.slice(n + 1).flatMap(([, e]) => e);
  return {
    name: `layer-${n}-imports-only-below`,
    comment: `Layer ${n} (${name}: ${entries.join(', ')}) imports only from its own layer or below; ${above.join(', ')} are above it.`,
    severity: 'error',
    from: { path: pathsOf(entries) },
    to: { path: pathsOf(above) },
  };
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      comment: 'No import cycles: a cycle makes the order in which modules load matter and hides which layer owns what.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'shells-not-imported-from-below',
      comment:
        'src/cli and src/server are thin shells over the library: no library module imports them (only the public barrel, src/index.ts, exports the server).',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(cli|server)/', '^src/index\\.ts$'] },
      to: { path: '^src/(cli|server)/' },
    },
    {
      name: 'cli-is-no-library',
      comment:
        'src/cli is the command line and nothing in the library imports it. The programs outside src/ (bench/, study/, scripts/) are ' +
        'command lines too and may reuse its progress bar and error reporting.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/cli/'] },
      to: { path: '^src/cli/' },
    },
    {
      name: 'server-and-cli-apart',
      comment: 'The server does not import the CLI (the CLI may start the server: `esmselect serve`).',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'barrel-only-for-outside',
      comment: 'src/index.ts is the public API for users, benchmarks and the study; library modules import the module that defines a name, never the barrel.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(cli|server)/'] },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'store-is-persistence-only',
      comment:
        'src/store holds SQL and the content-addressed files only: it imports the base, io/ and task/ (and linalg/ for types), never an algorithm ' +
        '(embedding, ESMs, LogME, ranking, sketches, HNSW), the Hub or TensorFlow.',
      severity: 'error',
      from: { path: '^src/store/' },
      // (what lies above store/ is the layer rules' business) It may name the types of what it stores
      // (an ESM's config, a ranking's result), but runs none of the code that makes them.
      to: { path: '^src/(tf|native|hub|dataset|embed|esm|logme|rank|finetune)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'store-uses-linalg-for-types-only',
      comment: 'src/store may name a linalg type (a matrix it stores) but runs no linear algebra.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/linalg/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'store-knows-no-http-nor-models',
      comment: 'src/store knows nothing of HTTP, the Hub client or TensorFlow: those belong to the layers that use the registry.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^node_modules/(hono|@hono|@huggingface|@tensorflow|hnswlib-node)/' },
    },
    {
      name: 'http-only-in-the-server',
      comment: 'Only src/server speaks HTTP (hono); jobs and the library raise their own errors, which src/server maps to problem documents in one place.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/server/', '^src/index\\.ts$'] },
      to: { path: '^node_modules/(hono|@hono)/' },
    },
    {
      name: 'library-imports-no-outside-code',
      comment: 'The published library (src/, so dist/) never imports the benchmarks, the study, scripts, the pre-training code or the tests.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(bench|study|scripts|pretrain|test)/' },
    },
    {
      name: 'src-folder-in-a-layer',
      comment: 'Every module of the library sits in a layer of .dependency-cruiser.cjs (add a new folder to LAYERS), or the layer rules do not see it.',
      severity: 'error',
      from: {},
      to: {
        path: '^src/',
        pathNot: [pathsOf(LAYERS.flatMap(([, e]) => e)), '^src/index\\.ts$'],
      },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to no file (a typo, or a module moved without its importers).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Only the code; dist/, build/, data/ and the rest are never read.
    includeOnly: { path: '^(src|bench|study|scripts|pretrain|test|node_modules)/' },
    exclude: { path: '^test/fixtures/' },
    doNotFollow: { path: 'node_modules' },
    // A worktree's node_modules may be a symbolic link; keep its modules under node_modules/ so the
    // package rules below match them there too.
    preserveSymlinks: true,
    // Type-only imports count: a layer may not even name a type from above (and store-uses-linalg-for-types-only needs to see them).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
