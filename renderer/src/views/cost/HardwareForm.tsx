// Lets the operator add their own accelerator (their quote, their datasheet); saved by the backend,
// which validates the entry and never overwrites the saved file with a bad one.
import { useState } from 'react';
import type { CatalogEntry, HardwareEntry, ResKvBridge } from '../../../../main/api/types.js';
import { useCost } from '../../state/cost.js';
import { TextField } from '../Field.js';
import { ErrorMessage } from '../common.js';

const empty = { id: '', name: '', vendor: '', memoryGiB: '', bandwidthGBs: '', tflops: '', powerW: '', priceUsd: '', cloudUsdPerHour: '', source: '' };

function entryFromForm(f: typeof empty): HardwareEntry {
  const today = new Date().toISOString().slice(0, 10);
  const source = f.source.trim() || 'entered by the operator';
  return {
    id: f.id.trim(),
    name: f.name.trim(),
    vendor: f.vendor.trim(),
    memory: { value: Number(f.memoryGiB), unit: 'GiB' },
    memoryBandwidth: { value: Number(f.bandwidthGBs), unit: 'GB/s' },
    fp16DenseTflops: Number(f.tflops),
    boardPowerW: Number(f.powerW),
    specSource: source,
    purchase: f.priceUsd.trim() === '' ? null : { usd: Number(f.priceUsd), approximate: false, source, date: today },
    cloud: f.cloudUsdPerHour.trim() === '' ? null : { usdPerHour: Number(f.cloudUsdPerHour), approximate: false, source, date: today },
  };
}

export function HardwareForm({ bridge, userEntries }: { bridge: ResKvBridge; userEntries: CatalogEntry[] }) {
  const [form, setForm] = useState(empty);
  const [error, setError] = useState<string | null>(null);
  const saveHardware = useCost((s) => s.saveHardware);
  const removeHardware = useCost((s) => s.removeHardware);
  const field = (key: keyof typeof empty, label: string, hint?: string) =>
    <TextField label={label} hint={hint} value={form[key]} onChange={(v) => setForm({ ...form, [key]: v })} inputMode={['id', 'name', 'vendor', 'source'].includes(key) ? 'text' : 'decimal'} />;
  const save = async () => {
    try {
      await saveHardware(bridge, entryFromForm(form));
      setForm(empty);
      setError(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <details className="hardware-form">
      <summary>Your own hardware ({userEntries.length})</summary>
      {userEntries.length > 0 && (
        <ul>
          {userEntries.map(({ entry }) => (
            <li key={entry.id}>
              {entry.name} <code>{entry.id}</code>{' '}
              <button type="button" onClick={() => void removeHardware(bridge, entry.id).catch((e: Error) => setError(e.message))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="form-grid">
        {field('id', 'Id', 'lower-case letters, digits, dots, dashes')}
        {field('name', 'Name')}
        {field('vendor', 'Vendor')}
        {field('memoryGiB', 'Memory (GiB)')}
        {field('bandwidthGBs', 'Bandwidth (GB/s)')}
        {field('tflops', 'Dense FP16 TFLOPS')}
        {field('powerW', 'Board power (W)')}
        {field('priceUsd', 'Purchase price (USD)', 'leave empty if you rent')}
        {field('cloudUsdPerHour', 'Cloud price (USD/h)', 'optional')}
        {field('source', 'Source of these figures')}
      </div>
      <button type="button" onClick={() => void save()}>
        Save hardware
      </button>
      <ErrorMessage message={error} />
    </details>
  );
}
