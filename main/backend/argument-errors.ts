// Bad arguments described in the operator's words: each method's arguments and each field named as
// the app's forms label them (not "argument 0" or "kv.6.format.depth"), and zod's type messages
// said plainly (not "expected number, received null").
import type { z } from 'zod';
import type { ApiMethodName } from '../api/methods.js';

/** What each method's arguments are, by position (a method not listed names none). */
const argumentNames: Partial<Record<ApiMethodName, readonly string[]>> = {
  'cost.estimate': ['Cost input'],
  'cost.saveHardware': ['Hardware'],
  'cost.removeHardware': ['Hardware'],
  'models.import': ['Checkpoint path'],
  'models.remove': ['Model'],
  'models.calibrate': ['Model', 'Calibration'],
  'models.planCalibration': ['Model', 'Calibration'],
  'models.removeCalibration': ['Model', 'Codebook set'],
  'chat.start': ['Model', 'Cache', 'System prompt'],
  'chat.resume': ['Conversation'],
  'chat.send': ['Conversation', 'Message', 'Sampling'],
  'chat.cancel': ['Conversation'],
  'chat.setDepth': ['Conversation', 'Depth'],
  'chat.fork': ['Conversation', 'Cache to compare with'],
  'chat.remove': ['Conversation'],
  'completions.create': ['Request'],
  'completions.cancel': ['Request'],
  'tradeoffs.run': ['Model', 'Sweep'],
  'tradeoffs.list': ['Model'],
  'tasks.run': ['Model', 'Task check'],
  'tasks.list': ['Model'],
  'settings.save': ['Settings'],
  'jobs.cancel': ['Job'],
  'jobs.dismiss': ['Job'],
};

/** Fields whose form label is not just their name in words. */
const fieldLabels: Record<string, string> = {
  paths: 'Text files',
  tokens: 'Tokens to sample',
  name: 'Name',
  maxVectors: 'Max vectors',
  kmeansIterations: 'k-means iterations',
  kmeansSample: 'k-means sample',
  emaPasses: 'EMA passes',
  maxTokens: 'Max tokens',
  topK: 'Top-k',
  topP: 'Top-p',
  libraryDir: 'Library folder',
  localApi: 'Local API',
  kv: 'KV formats',
};

/** Where a form labels a field its own way (Tradeoffs, Tasks and the calibration form). */
const methodFieldLabels: Partial<Record<ApiMethodName, Record<string, string>>> = {
  'tradeoffs.run': { textPath: 'Text file', maxTokens: 'Tokens to score', maxDepth: 'Deepest depth', codebookSets: 'Caches' },
  'tasks.run': { taskPath: 'Task file', formats: 'Caches', depths: 'RVQ depths', seed: 'Bootstrap seed' },
  'models.calibrate': { name: 'Set name', text: 'Calibration text' },
  'models.planCalibration': { name: 'Set name', text: 'Calibration text' },
};

/** `codebookSize` -> "Codebook size". */
function words(key: string): string {
  const spaced = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}


/**
 * A field path as the operator knows it: the innermost named field, then where it sits when inside a
 * list ("Depth (KV formats, row 7)"); the method's argument name when the path names no field.
 */
function describePath(method: ApiMethodName, path: readonly PropertyKey[]): string {
  const label = (key: string) => methodFieldLabels[method]?.[key] ?? fieldLabels[key] ?? words(key);
  const [argument, ...rest] = path;
  const names = rest.filter((p): p is string => typeof p === 'string');
  if (names.length === 0) return argumentNames[method]?.[Number(argument)] ?? 'Arguments';
  // a union's `kind` is named by what it is the kind of ("Calibration text kind")
  const field = names.at(-1) === 'kind' && names.length > 1 ? `${label(names.at(-2)!)} kind` : label(names.at(-1)!);
  const row = rest.findIndex((p) => typeof p === 'number');
  if (row < 1) return field;
  const list = rest[row - 1];
  return `${field} (${typeof list === 'string' ? label(list) : 'list'}, row ${(rest[row] as number) + 1})`;
}

const nouns: Record<string, string> = { number: 'a number', string: 'text', boolean: 'yes or no', array: 'a list', object: 'a group of fields', int: 'a whole number' };

/** zod's own wording for types, enums and unknown keys made plain; messages the schemas wrote pass through. */
function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      const empty = /received (null|undefined|NaN)/.test(issue.message);
      const noun = nouns[issue.expected] ?? issue.expected;
      return empty ? `is empty: give ${noun}` : `must be ${noun}`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${String(issue.values[0])}` : `must be one of ${issue.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return `has unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return 'is none of the accepted kinds';
    case 'too_small':
    case 'too_big': {
      if (!/^Too (small|big):/.test(issue.message)) return issue.message; // the schema's own words
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const most = issue.code === 'too_small' ? 'least' : 'most';
      if (issue.origin === 'string') return issue.code === 'too_small' && Number(bound) === 1 ? 'must not be empty' : `must be at ${most} ${String(bound)} characters`;
      if (issue.origin === 'array') return `must hold at ${most} ${String(bound)} items`;
      return `must be at ${most} ${String(bound)}`;
    }
    default:
      return issue.message;
  }
}

/** One line naming every problem: "Depth: must be at least 1; Max vectors: is empty: give a number"; `given`: how many arguments came. */
export function describeArgumentIssues(method: ApiMethodName, issues: readonly z.core.$ZodIssue[], given: number): string {
  return issues
    .map((i) => {
      // too few arguments: the first one missing
      if (i.path.length === 0 && i.code === 'too_small') return `${argumentNames[method]?.[given] ?? 'Arguments'}: is missing`;
      return `${describePath(method, i.path)}: ${describeIssue(i)}`;
    })
    .join('; ');
}
