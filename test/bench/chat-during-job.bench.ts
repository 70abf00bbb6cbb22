// Chat latency while a calibration runs: stories260K greedy replies of up to 128 tokens through the
// real backend worker (chat.send), measured in interleaved rounds under three conditions:
//   idle       nothing else running
//   app job    a calibration job of the app (at most half the cores, nice 10, paused while chat generates)
//   cli run    the same calibration as a separate `reskv calibrate` process at ONNX Runtime's default
//              threads and normal priority (what a job did before it yielded: the strongest contender)
// Each calibration (2048 entries, depth 8, on the first 400 KB of tinystories-valid-sample.txt, so
// capture is short) is measured in its training phase and cancelled after the reply. Prints per-condition medians and spread (min..max) of
// milliseconds per reply and per token. Target: a reply during an app job takes at most 3x the idle
// median (printed MET/MISSED). Usage: npm run bench:chat-during-job [-- --rounds 5]
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BackendEvent, ChatSession, JobSnapshot } from '../../main/api/types.js';
import { importStories260K, startSourceBackend } from '../support/backend.js';
import { repoRoot } from '../support/paths.js';
import { fixtures } from '../support/shared.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
const settings = { name: 'bench', depth: 8, codebookSize: 2048, maxVectors: 65536 };

const { backend, dataDir } = await startSourceBackend();
const events: BackendEvent[] = [];
backend.subscribe((e) => events.push(e));
const folder = await importStories260K(backend, dataDir);
// the CLI calibrates its own copy, so the two never share a manifest
const cliLibrary = mkdtempSync(join(tmpdir(), 'reskv-bench-cli-'));
cpSync(folder, join(cliLibrary, 'stories260K'), { recursive: true });
const text = join(cliLibrary, 'calibration-text.txt');
writeFileSync(text, readFileSync(fixtures.validSample).subarray(0, 400_000));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const greedy = { maxTokens: 128, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, stop: [] };

/** One reply in a fresh conversation: wall milliseconds and tokens generated. */
async function reply(): Promise<{ ms: number; tokens: number }> {
  const session = (await backend.call('chat.start', ['stories260K', 'fp16', null])) as ChatSession;
  const from = events.length;
  const started = performance.now();
  await backend.call('chat.send', [session.id, 'Once upon a time', greedy]);
  const ms = performance.now() - started;
  const tokens = events.slice(from).filter((e) => e.type === 'chat-token' && e.conversationId === session.id).length;
  await backend.call('chat.remove', [session.id]);
  return { ms, tokens };
}

async function duringAppJob(): Promise<{ ms: number; tokens: number }> {
  const job = (await backend.call('models.calibrate', ['stories260K', { text: { kind: 'files', paths: [text] }, settings }])) as JobSnapshot;
  const latest = () => events.flatMap((e) => (e.type === 'job' && e.job.id === job.id ? [e.job] : [])).at(-1);
  while (!latest()?.progress?.stage?.startsWith('training')) {
    if (latest() && latest()!.state !== 'running') throw new Error(`calibration ${latest()!.state}: ${latest()!.message}`);
    await sleep(100);
  }
  await sleep(1000);
  try {
    return await reply();
  } finally {
    await backend.call('jobs.cancel', [job.id]);
    while (latest()?.state === 'running') await sleep(50);
  }
}

async function duringCliRun(): Promise<{ ms: number; tokens: number }> {
  const args = ['tsx', 'main/cli.ts', 'calibrate', '--model', 'stories260K', '--library', cliLibrary, '--text', text, '--name', 'bench'];
  const child: ChildProcess = spawn('npx', args, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    while (!stderr.includes('training')) {
      if (child.exitCode !== null) throw new Error(`reskv calibrate exited ${child.exitCode}: ${stderr}`);
      await sleep(100);
    }
    await sleep(1000);
    return await reply();
  } finally {
    process.kill(-child.pid!, 'SIGKILL');
  }
}

const conditions = { idle: reply, 'app job': duringAppJob, 'cli run': duringCliRun };
type Condition = keyof typeof conditions;
const results: Record<Condition, { ms: number; tokens: number }[]> = { idle: [], 'app job': [], 'cli run': [] };
const names = Object.keys(conditions) as Condition[];
await reply(); // warm-up: loads the model
for (let round = 0; round < rounds; round++) {
  // rotate the order so no condition always follows the same one
  for (let i = 0; i < names.length; i++) {
    const name = names[(round + i) % names.length];
    const result = await conditions[name]();
    results[name].push(result);
    console.log(`round ${round + 1} ${name}: ${result.ms.toFixed(0)} ms, ${result.tokens} tokens`);
  }
}
await backend.close();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log('\nchat reply (stories260K fp16, greedy, up to 128 tokens), median [min..max] over rounds:');
for (const name of names) {
  const ms = results[name].map((r) => r.ms);
  const perToken = results[name].map((r) => r.ms / Math.max(1, r.tokens));
  console.log(`  ${name.padEnd(8)} ${median(ms).toFixed(0)} ms [${Math.min(...ms).toFixed(0)}..${Math.max(...ms).toFixed(0)}], ${median(perToken).toFixed(2)} ms/token`);
}
const ratio = median(results['app job'].map((r) => r.ms)) / median(results.idle.map((r) => r.ms));
console.log(`target: reply during an app calibration <= 3x idle: ${ratio.toFixed(2)}x ${ratio <= 3 ? 'MET' : 'MISSED'}`);
