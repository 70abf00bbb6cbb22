// The import graph's rules (npm run lint runs `depcruise` with this file). Layers, top to bottom:
//   renderer            -> types from main/api only
//   main: cli, server, electron, preload, backend (transports and hosts)
//         engine        (conversations, caches, sessions; no transport)
//         library       (installing a model or a codebook set: builds graphs from checkpoints)
//         onnx          (graph builders)
//         model         (checkpoints, configs, weights, tokenizers)
//   quant               (pure TypeScript; imports nothing from main or renderer)
// Imports flow downward only, and nothing imports in a cycle.

const transports = '^main/(cli|server|electron|preload|backend)/|^main/cli\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Modules that import each other cannot be understood, tested or moved one at a time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'quant-is-standalone',
      severity: 'error',
      comment: 'quant/ is pure TypeScript: it imports nothing from main/ or renderer/.',
      from: { path: '^quant/' },
      to: { path: '^(main|renderer)/' },
    },
    {
      name: 'main-never-imports-renderer',
      severity: 'error',
      from: { path: '^main/' },
      to: { path: '^renderer/' },
    },
    {
      name: 'renderer-imports-only-api',
      severity: 'error',
      comment: 'The renderer reaches the backend only through the bridge; main/api is its contract.',
      from: { path: '^renderer/' },
      to: { path: '^(main|quant)/', pathNot: '^main/api/' },
    },
    {
      name: 'renderer-imports-only-api-types',
      severity: 'error',
      comment: 'Nothing of main/ may run in the renderer: it imports main/api for types only.',
      from: { path: '^renderer/' },
      to: { path: '^main/api/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'engine-below-transports',
      severity: 'error',
      comment: 'The engine is transport-free: it never imports the hosts (cli, server, electron, backend) or the API contract.',
      from: { path: '^main/engine/' },
      to: { path: `${transports}|^main/api/` },
    },
    {
      name: 'library-onnx-and-model-below-engine',
      severity: 'error',
      comment: 'Installing models, graph builders and checkpoint readers sit below the engine and everything above it.',
      from: { path: '^main/(library|onnx|model)/' },
      to: { path: `^main/engine/|^main/api/|${transports}` },
    },
    {
      name: 'onnx-and-model-below-library',
      severity: 'error',
      comment: 'Installing a model builds graphs (onnx) from checkpoints (model), so neither imports main/library.',
      from: { path: '^main/(onnx|model)/' },
      to: { path: '^main/library/' },
    },
    {
      name: 'model-below-onnx',
      severity: 'error',
      comment: 'Graphs are built from a model config and weights, so main/onnx imports main/model and never the reverse (no folder cycle).',
      from: { path: '^main/model/' },
      to: { path: '^main/onnx/' },
    },
    {
      name: 'electron-never-reaches-the-engine',
      severity: 'error',
      comment:
        'The Electron main process and the preload never load the engine or onnxruntime-node (only the worker runs models). ' +
        'Type imports count too, so the API contract never leans on engine types.',
      from: { path: '^main/(electron|preload)/' },
      to: { path: '^main/engine/|onnxruntime-node', reachable: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(out|dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.cjs', '.mjs', '.json'] },
  },
};
