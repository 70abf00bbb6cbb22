// Where a decoder graph's step time goes: runs an ONNX Runtime session with profiling on and sums
// the kernel time of every node by its builder scope (GraphBuilder.scope: "kv-cache/decode",
// "attention", "weights", ...). Profiling adds overhead of its own, so the parts are to be compared
// with each other, not with the unprofiled step time.
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

const profileEvents = z.array(z.object({ cat: z.string(), name: z.string(), ts: z.number(), dur: z.number() }).passthrough());

/** Mean kernel ms per step for each scope of `model`'s nodes over `steps` runs of `feeds` (after one warm-up). */
export async function profileByScope(model: Uint8Array, feeds: Record<string, ort.Tensor>, steps: number, options: ort.InferenceSession.SessionOptions = {}): Promise<Map<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'reskv-profile-'));
  try {
    const session = await ort.InferenceSession.create(model, { ...options, enableProfiling: true, profileFilePrefix: join(dir, 'profile') });
    for (let i = 0; i <= steps; i++) await session.run(feeds);
    session.endProfiling();
    await session.release();
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`expected one profile file in ${dir}, found ${files.length}`);
    const events = profileEvents.parse(JSON.parse(readFileSync(join(dir, files[0]), 'utf8')));
    // the first run is the warm-up: count only nodes that started after it ended
    const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
    if (runs.length !== steps + 1) throw new Error(`expected ${steps + 1} runs in the profile, found ${runs.length}`);
    const warmedUp = runs[0].ts + runs[0].dur;
    const byScope = new Map<string, number>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < warmedUp) continue;
      // "attention/MatMul_12/MatmulTransposeFusion//..." : the scope ends before the node's own name
      const path = e.name.slice(0, -'_kernel_time'.length).split('/');
      const scope = path.slice(0, path.findIndex((part) => /^\w+_\d+$/.test(part))).join('/') || '(unscoped)';
      byScope.set(scope, (byScope.get(scope) ?? 0) + e.dur / 1000 / steps);
    }
    return byScope;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints the scopes of several profiles side by side, largest first by the last profile. */
export function printScopeTable(profiles: { name: string; byScope: Map<string, number> }[]): void {
  const scopes = [...new Set(profiles.flatMap((p) => [...p.byScope.keys()]))];
  const last = profiles[profiles.length - 1].byScope;
  scopes.sort((a, b) => (last.get(b) ?? 0) - (last.get(a) ?? 0));
  const cell = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1)).padStart(10);
  console.log(`${'scope (kernel ms/step)'.padEnd(28)}${profiles.map((p) => p.name.padStart(10)).join('')}`);
  for (const scope of scopes) console.log(`${scope.padEnd(28)}${profiles.map((p) => cell(p.byScope.get(scope))).join('')}`);
  const total = (p: Map<string, number>) => [...p.values()].reduce((a, b) => a + b, 0);
  console.log(`${'total'.padEnd(28)}${profiles.map((p) => cell(total(p.byScope))).join('')}`);
}
