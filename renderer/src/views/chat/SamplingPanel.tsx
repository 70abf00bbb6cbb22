// Sampling settings for the next replies (validated by the backend, which names a bad field).
import type { SamplingOptions } from '../../../../main/api/types.js';
import { useChat } from '../../state/chat.js';
import { Field, numberFromField, TextInput } from '../Field.js';

const fields: Array<[keyof SamplingOptions, string, string?]> = [
  ['maxTokens', 'Max tokens'],
  ['temperature', 'Temperature', '0 = greedy'],
  ['topP', 'Top-p'],
  ['topK', 'Top-k', '0 = off'],
  ['repetitionPenalty', 'Repetition penalty', '1 = off'],
  ['seed', 'Seed', 'empty = random'],
];

export function SamplingPanel() {
  const sampling = useChat((s) => s.sampling);
  const setSampling = useChat((s) => s.setSampling);
  return (
    <details className="sampling">
      <summary>Sampling</summary>
      <div className="form-grid">
        {fields.map(([key, label, hint]) => (
          <Field key={key} label={label} hint={hint}>
            <TextInput
              value={sampling[key] === null ? '' : String(sampling[key])}
              onChange={(v) => setSampling({ [key]: key === 'seed' && v.trim() === '' ? null : numberFromField(v) })}
            />
          </Field>
        ))}
        <Field label="Stop strings" hint="comma-separated">
          <TextInput value={sampling.stop.join(',')} inputMode="text" onChange={(v) => setSampling({ stop: v.split(',').filter((s) => s !== '') })} />
        </Field>
      </div>
    </details>
  );
}
