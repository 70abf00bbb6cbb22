// A depth sweep's result as the Tradeoffs and Cost views receive it, for renderer-state tests.
import type { TradeoffRun } from '../../main/api/types.js';

/** A 64-token sweep of `model` (stories260K's shape unless another is given) finished on 2026-11-28. */
export function tradeoffRun(points: TradeoffRun['points'], model = 'm', geometry: Partial<TradeoffRun['geometry']> = {}): TradeoffRun {
  return {
    id: 'sweep-1',
    model,
    startedAt: '2026-11-28T10:00:00.000Z',
    finishedAt: '2026-11-28T10:01:00.000Z',
    options: { textPath: '/t.txt', maxTokens: 64, codebookSets: [], maxDepth: null, scalarBaselines: true, latencyContext: 16, latencySteps: 4 },
    text: { file: 't.txt', sha256: 'ab'.repeat(32), documents: 1, tokens: 64, positions: 63 },
    machine: { platform: 'linux', arch: 'x64', cpu: 'cpu', cores: 2, provider: 'cpu', threads: 0 },
    geometry: { name: model, numLayers: 5, hiddenSize: 64, numHeads: 8, numKvHeads: 4, headDim: 8, intermediateSize: 172, vocabSize: 512, maxPositions: 512, qkvBias: false, tiedEmbeddings: true, ...geometry },
    fp16BytesPerToken: 640,
    points,
  };
}
