// How to serve a KV format with an existing engine: the command line of vLLM or llama.cpp's server
// for the planned split and batch, or a plain statement that no production engine serves it (RVQ).
// Flags as documented by each engine: vLLM `--kv-cache-dtype`, `--tensor-parallel-size`,
// `--max-model-len`, `--max-num-seqs`; llama.cpp `llama-server` `--cache-type-k/-v`, `-np`
// (parallel slots), `-c` (total context, shared by the slots), `-fa` (flash attention, which a
// quantized V cache needs), `-ngl` and `--split-mode`.
import type { KvFormat } from './kv-format.js';

export interface ServingLayout {
  /** GPUs per model replica, replicas, and conversations each replica serves. */
  tensorParallel: number;
  replicas: number;
  conversationsPerReplica: number;
  context: number;
}

export interface ServingOption {
  engine: string;
  /** The command for one replica, or null when this engine has no such KV format. */
  command: string | null;
  note: string;
}

export interface ServingPlan {
  format: string;
  /** Machines of at most `gpusPerMachine` GPUs that the replicas need. */
  machines: number;
  layout: string;
  options: ServingOption[];
}

const GPUS_PER_MACHINE = 8;

/** "meta-llama/Meta-Llama-3-8B config.json" → "meta-llama/Meta-Llama-3-8B"; anything else → a placeholder. */
export function repositoryOf(source: string | null): string {
  const first = source?.split(/\s/)[0] ?? '';
  return /^[\w.-]+\/[\w.-]+$/.test(first) ? first : 'MODEL';
}

function vllm(format: KvFormat, repo: string, l: ServingLayout): ServingOption {
  const base = `vllm serve ${repo} --tensor-parallel-size ${l.tensorParallel} --max-model-len ${l.context} --max-num-seqs ${l.conversationsPerReplica}`;
  switch (format.kind) {
    case 'fp16':
      return { engine: 'vLLM', command: base, note: 'KV cache in the model dtype (--kv-cache-dtype auto)' };
    case 'q8_0':
      return { engine: 'vLLM', command: `${base} --kv-cache-dtype fp8`, note: 'fp8 (e4m3) is vLLM\'s 8-bit KV cache: the same bytes as q8_0 within 6%, not the same rounding' };
    default:
      return { engine: 'vLLM', command: null, note: `no ${format.kind === 'rvq' ? 'RVQ' : format.kind} KV cache type (8-bit fp8 is the smallest)` };
  }
}

function llamaCpp(format: KvFormat, l: ServingLayout): ServingOption {
  const cacheType = format.kind === 'fp16' ? 'f16' : format.kind === 'q8_0' || format.kind === 'q4_0' ? format.kind : null;
  if (cacheType === null) {
    return { engine: 'llama.cpp server', command: null, note: `no ${format.kind === 'rvq' ? 'RVQ' : format.kind} cache type (q4_0 is the smallest)` };
  }
  const split = l.tensorParallel > 1 ? ` --split-mode row --tensor-split ${Array(l.tensorParallel).fill(1).join(',')}` : '';
  const flash = cacheType === 'f16' ? '' : ' -fa on';
  return {
    engine: 'llama.cpp server',
    command:
      `llama-server -m model.gguf -ngl 99${split} -np ${l.conversationsPerReplica} -c ${l.conversationsPerReplica * l.context} ` +
      `--cache-type-k ${cacheType} --cache-type-v ${cacheType}${flash}`,
    note: `-c is shared by the ${l.conversationsPerReplica} slots (-np): ${l.context} tokens each` + (flash ? '; a quantized V cache needs flash attention (-fa; older builds take -fa without a value)' : ''),
  };
}

function research(format: KvFormat): ServingOption | null {
  if (format.kind === 'rvq') {
    return {
      engine: 'none',
      command: null,
      note:
        'RVQ has no production serving support yet: no serving engine (vLLM, llama.cpp, TGI, TensorRT-LLM) stores the KV cache as residual codes. ' +
        "ResKV's own engine runs it on this machine's CPU or WebGPU for evaluation only; to deploy now, serve fp16, fp8 or q8_0 as above.",
    };
  }
  if (format.kind.startsWith('kivi')) {
    return {
      engine: 'none',
      command: null,
      note: "KIVI has no production serving engine: the authors' research code, or Hugging Face transformers' quantized cache (cache_implementation=\"quantized\") for offline use.",
    };
  }
  return null;
}

export function servingPlan(format: KvFormat, label: string, source: string | null, layout: ServingLayout): ServingPlan {
  const gpus = layout.tensorParallel * layout.replicas;
  const machines = Math.ceil(gpus / GPUS_PER_MACHINE);
  const replicasPerMachine = Math.max(1, Math.floor(GPUS_PER_MACHINE / layout.tensorParallel));
  const layoutText =
    `${layout.replicas} replica${layout.replicas === 1 ? '' : 's'} of ${layout.tensorParallel} GPU${layout.tensorParallel === 1 ? '' : 's'}, ` +
    `${layout.conversationsPerReplica} conversations each` +
    (layout.replicas > 1 ? `, behind a load balancer` : '') +
    (machines > 1 ? `; ${machines} machines of up to ${GPUS_PER_MACHINE} GPUs (${replicasPerMachine} replica${replicasPerMachine === 1 ? '' : 's'} each)` : '');
  const unsupported = research(format);
  const options = [vllm(format, repositoryOf(source), layout), llamaCpp(format, layout)];
  return { format: label, machines, layout: layoutText, options: unsupported ? [unsupported, ...options.filter((o) => o.command !== null)] : options };
}
