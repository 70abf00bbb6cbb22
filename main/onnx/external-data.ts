// ONNX external data: initializer bytes in a side file next to the .onnx, referenced by
// location/offset/length. One file serves every graph of a model (fp, capture, rvq): each tensor is
// written once, and its table lets graphs built later reference the same bytes.
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import onnxProto from 'onnx-proto';
import type { ElemType, TensorStore } from './builder.js';
import { inlineTensors } from './builder.js';

const alignment = 64;

/** Where each tensor lies in the external data file. */
export type ExternalTensorTable = Record<string, { offset: number; length: number }>;

function externalTensor(location: string, name: string, dataType: ElemType, dims: readonly number[], at: { offset: number; length: number }): onnxProto.onnx.ITensorProto {
  return {
    name,
    dataType,
    dims: [...dims],
    dataLocation: onnxProto.onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: location },
      { key: 'offset', value: String(at.offset) },
      { key: 'length', value: String(at.length) },
    ],
  };
}

/** Writes initializers into a new external data file. */
export class ExternalTensorFile implements TensorStore {
  private readonly fd: number;
  private readonly location: string;
  private readonly written: ExternalTensorTable = {};
  private size = 0;

  /** `path` is created (truncated); graphs must be saved in the same folder. */
  constructor(
    path: string,
    private readonly onBytes: (bytes: number) => void = () => {},
  ) {
    this.fd = openSync(path, 'w');
    this.location = basename(path);
  }

  get bytesWritten(): number {
    return this.size;
  }

  get table(): ExternalTensorTable {
    return { ...this.written };
  }

  tensor(name: string, dataType: ElemType, dims: readonly number[], bytes: () => Uint8Array): onnxProto.onnx.ITensorProto {
    let at = this.written[name];
    if (!at) {
      const data = bytes();
      const offset = Math.ceil(this.size / alignment) * alignment;
      let done = 0;
      while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
      at = { offset, length: data.length };
      this.written[name] = at;
      this.size = offset + data.length;
      this.onBytes(data.length);
    }
    return externalTensor(this.location, name, dataType, dims, at);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** References tensors already in an external data file; anything else (e.g. codebooks) goes inline. */
export function existingExternalTensors(location: string, table: ExternalTensorTable): TensorStore {
  return {
    tensor: (name, dataType, dims, bytes) => (table[name] ? externalTensor(location, name, dataType, dims, table[name]) : inlineTensors.tensor(name, dataType, dims, bytes)),
  };
}
