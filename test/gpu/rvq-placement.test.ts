// On WebGPU, every node of the rvq graph whose output grows with the context runs on the GPU: parses
// ONNX Runtime's verbose node-placement log (a child process's stderr, as ORT logs natively) and the
// nodes' output sizes at two context lengths (its profile), and fails on any CPU node whose size grew.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { haveWebGpu } from '../support/software-gpu.js';
import { runWithPlacements } from './placements.js';

const gpu = await haveWebGpu();

const runOutput = z.object({ pastLengths: z.array(z.number()), sizes: z.record(z.string(), z.array(z.number())) });

describe.skipIf(!gpu)('rvq graph node placement on WebGPU', () => {
  it('places no context-sized node on the CPU', () => {
    const { stdout, placed } = runWithPlacements('rvq-placement-run.ts');
    const { sizes } = runOutput.parse(JSON.parse(stdout));
    const onGpu = placed.get('WebGpuExecutionProvider') ?? [];
    const onCpu = placed.get('CPUExecutionProvider') ?? [];
    const grows = (name: string) => sizes[name] !== undefined && sizes[name][0] !== sizes[name][1];
    // the check has something to check: the past is decoded, roped and attended on the GPU
    expect(onGpu.filter(grows).length).toBeGreaterThan(20);
    expect(onGpu.some((name) => name.startsWith('kv-cache/decode/') && grows(name))).toBe(true);
    expect(onCpu.filter(grows)).toEqual([]);
  });
});
