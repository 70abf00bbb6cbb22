// What a task check reports per cache: dependency-free, so the engine writes it and main/api/types.ts re-exports it to the renderer.
export type TaskKind = 'choice' | 'generation';

/** 95% paired-bootstrap interval of the accuracy difference against fp16 on the same items, and McNemar's exact p. */
export interface TaskComparison {
  kind: TaskKind | 'all';
  items: number;
  accuracy: number;
  referenceAccuracy: number;
  difference: number;
  interval: [number, number];
  lost: number;
  gained: number;
  mcnemarP: number;
  verdict: 'drop' | 'no significant change' | 'gain';
}

export interface TaskCacheResult {
  /** e.g. "fp16", "q4_0", "rvq:default d3". */
  label: string;
  format: 'fp16' | 'q8_0' | 'q4_0' | 'kivi2' | 'rvq';
  /** rvq: the depth; else null. */
  depth: number | null;
  /** Per item (in file order): right or not, and the chosen choice or generated text. */
  outcomes: { correct: boolean; answer: string }[];
  /** Against fp16 per item kind present and over all items (empty for fp16 itself). */
  comparisons: TaskComparison[];
}

/** An item whose outcome differs between fp16 and a cache. */
export interface ChangedTaskItem {
  cache: string;
  line: number;
  kind: TaskKind;
  prompt: string;
  expected: string;
  referenceAnswer: string;
  answer: string;
  /** Right under fp16 (and so wrong under the cache), or the reverse. */
  referenceCorrect: boolean;
}

export interface TaskDrift {
  label: string;
  depth: number | null;
  /** Per prompt: first generated position whose greedy token differs from fp16's; null when none did. */
  firstDivergence: (number | null)[];
  medianFirstDivergence: number;
  /** Mean KL(fp16 || cache) at each generated position along fp16's greedy text (teacher-forced). */
  klByPosition: number[];
  meanKl: number;
}
