// Small labelled form controls shared by the views. A Field gives its control an id, so the label
// (and only the label) names it; the hint describes it.
import { cloneElement, useId, type ReactElement } from 'react';

export function Field({ label, hint, children }: { label: string; hint?: string; children: ReactElement<{ id?: string; 'aria-describedby'?: string }> }) {
  const id = useId();
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        {label}
      </label>
      {cloneElement(children, { id, 'aria-describedby': hint ? `${id}-hint` : undefined })}
      {hint && (
        <span className="field-hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
    </div>
  );
}

/** A numeric field's text as a number; empty is NaN, which the backend rejects naming the field. */
export const numberFromField = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

export function TextInput({ value, onChange, placeholder, inputMode = 'decimal', ...aria }: { value: string; onChange: (v: string) => void; placeholder?: string; inputMode?: 'decimal' | 'text'; id?: string; 'aria-describedby'?: string }) {
  return <input type="text" inputMode={inputMode} value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} {...aria} />;
}

/** A labelled text input: the Field and TextInput pair every form builds its text boxes from. */
export function TextField({ label, hint, ...input }: { label: string; hint?: string; value: string; onChange: (v: string) => void; placeholder?: string; inputMode?: 'decimal' | 'text' }) {
  return (
    <Field label={label} hint={hint}>
      <TextInput {...input} />
    </Field>
  );
}

export function Select<T extends string>({ value, onChange, options, ...aria }: { value: T; onChange: (v: T) => void; options: Array<{ value: T; label: string }>; id?: string; 'aria-describedby'?: string }) {
  return (
    <select value={value} onChange={(e) => onChange(e.target.value as T)} {...aria}>
      {options.map((o) => (
        <option key={o.value} value={o.value}>
          {o.label}
        </option>
      ))}
    </select>
  );
}
