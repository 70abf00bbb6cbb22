import { describe, expect, it } from 'vitest';
import { createSession, platformProviders, probeProvider } from '../../../main/engine/session.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { tinyConfig } from './tiny-model.js';

// a provider this platform cannot have, so the fallback does not depend on the machine's GPUs or libraries
const foreign = process.platform === 'win32' ? 'coreml' : 'dml';

describe('createSession', () => {
  const graph = () => buildDecoderGraph(tinyConfig, new RandomWeights(tinyConfig, 1), { cacheType: 'float16' });

  it('offers only the providers a platform can have, WebGPU on all three, CPU always last', () => {
    expect(platformProviders('linux')).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(platformProviders('win32')).toEqual(['cuda', 'dml', 'webgpu', 'cpu']);
    expect(platformProviders('darwin')).toEqual(['cuda', 'coreml', 'webgpu', 'cpu']);
  });

  it('falls back to the CPU and says why the preferred provider was passed over', async () => {
    const { provider, skipped, session, halfFree } = await createSession(graph(), { providers: [foreign], threads: 1 });
    expect(provider).toBe('cpu');
    expect(skipped).toEqual([{ provider: foreign, reason: `not available on ${process.platform}` }]);
    expect(halfFree).toBe(false);
    expect(session.inputNames).toContain('past_key_values.0.key');
  });

  it('probes a provider once per process, running float16 kernels on the CPU', async () => {
    const first = probeProvider('cpu');
    expect(probeProvider('cpu')).toBe(first);
    expect(await first).toEqual({ provider: 'cpu', available: true, halfFloats: true, reason: null });
    expect(await probeProvider(foreign)).toMatchObject({ available: false, reason: `not available on ${process.platform}` });
  });

  it('rejects bad options and an unreadable model clearly', async () => {
    await expect(createSession(graph(), { threads: -1 })).rejects.toThrow(/threads: must be at least 0/);
    await expect(createSession(graph(), { providers: ['tpu' as 'cpu'] })).rejects.toThrow(/providers\.0/);
    await expect(createSession(new Uint8Array([1, 2, 3]), { providers: ['cpu'] })).rejects.toThrow(/no execution provider could run the model: cpu:/);
  });
});
