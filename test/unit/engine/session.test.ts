import { describe, expect, it } from 'vitest';
import { createSession, platformProviders } from '../../../main/engine/session.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { tinyConfig } from './tiny-model.js';

describe('createSession', () => {
  const graph = () => buildDecoderGraph(tinyConfig, new RandomWeights(tinyConfig, 1), { cacheType: 'float16' });

  it('offers only the providers a platform can have, CPU always', () => {
    expect(platformProviders('linux')).toEqual(['cuda', 'cpu']);
    expect(platformProviders('win32')).toEqual(['cuda', 'dml', 'cpu']);
    expect(platformProviders('darwin')).toEqual(['cuda', 'coreml', 'cpu']);
  });

  it('falls back to the CPU and says why the preferred providers were passed over', async () => {
    const { provider, skipped, session } = await createSession(graph(), { providers: ['coreml', 'cuda'], threads: 1 });
    expect(provider).toBe('cpu');
    expect(skipped.map((s) => s.provider)).toEqual(['coreml', 'cuda']);
    expect(skipped[0].reason).toMatch(/not available on linux/);
    expect(session.inputNames).toContain('past_key_values.0.key');
  });

  it('rejects bad options and an unreadable model clearly', async () => {
    await expect(createSession(graph(), { threads: -1 })).rejects.toThrow(/threads: must be at least 0/);
    await expect(createSession(graph(), { providers: ['tpu' as 'cpu'] })).rejects.toThrow(/providers\.0/);
    await expect(createSession(new Uint8Array([1, 2, 3]), { providers: ['cpu'] })).rejects.toThrow(/no execution provider could run the model: cpu:/);
  });
});
