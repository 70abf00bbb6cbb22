// On WebGPU, every node of the rvq graph whose output grows with the context runs on the GPU: parses
// ONNX Runtime's verbose node-placement log (a child process's stderr, as ORT logs natively) and the
// nodes' output sizes at two context lengths (its profile), and fails on any CPU node whose size grew.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { repoRoot } from '../support/paths.js';
import { haveWebGpu } from '../support/software-gpu.js';

const gpu = await haveWebGpu();

/** Node names per provider from the "Node placements" lines of ORT's verbose log. */
function parsePlacements(log: string): Map<string, string[]> {
  const placed = new Map<string, string[]>();
  let provider: string | null = null;
  for (const line of log.split('\n')) {
    if (!line.includes('VerifyEachNodeIsAssignedToAnEp]')) continue;
    const header = /Node\(s\) placed on \[(\w+)\]/.exec(line);
    const node = /VerifyEachNodeIsAssignedToAnEp\]\s{3}\S+ \((.+)\)\s*$/.exec(line);
    if (header) {
      provider = header[1];
      placed.set(provider, []);
    } else if (node && provider) {
      placed.get(provider)!.push(node[1]);
    }
  }
  return placed;
}

const runOutput = z.object({ pastLengths: z.array(z.number()), sizes: z.record(z.string(), z.array(z.number())) });

describe.skipIf(!gpu)('rvq graph node placement on WebGPU', () => {
  it('places no context-sized node on the CPU', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/gpu/rvq-placement-run.ts')], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 256 * 2 ** 20, env: process.env });
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    const placed = parsePlacements(run.stderr);
    const { sizes } = runOutput.parse(JSON.parse(run.stdout));
    const onGpu = placed.get('WebGpuExecutionProvider') ?? [];
    const onCpu = placed.get('CPUExecutionProvider') ?? [];
    const grows = (name: string) => sizes[name] !== undefined && sizes[name][0] !== sizes[name][1];
    // the check has something to check: the past is decoded, roped and attended on the GPU
    expect(onGpu.filter(grows).length).toBeGreaterThan(20);
    expect(onGpu.some((name) => name.startsWith('kv-cache/decode/') && grows(name))).toBe(true);
    expect(onCpu.filter(grows)).toEqual([]);
  });
});
