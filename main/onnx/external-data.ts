// ONNX external data: initializer bytes in a side file next to the .onnx, referenced by
// location/offset/length. One file can serve several graphs of the same model (fp, rvq, capture),
// each tensor written once.
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import onnxProto from 'onnx-proto';
import type { ElemType, TensorStore } from './builder.js';

const alignment = 64;

export class ExternalTensorFile implements TensorStore {
  private readonly fd: number;
  private readonly location: string;
  private readonly written = new Map<string, { offset: number; length: number }>();
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

  tensor(name: string, dataType: ElemType, dims: readonly number[], bytes: () => Uint8Array): onnxProto.onnx.ITensorProto {
    let at = this.written.get(name);
    if (!at) {
      const data = bytes();
      const offset = Math.ceil(this.size / alignment) * alignment;
      let done = 0;
      while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
      at = { offset, length: data.length };
      this.written.set(name, at);
      this.size = offset + data.length;
      this.onBytes(data.length);
    }
    return {
      name,
      dataType,
      dims: [...dims],
      dataLocation: onnxProto.onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: this.location },
        { key: 'offset', value: String(at.offset) },
        { key: 'length', value: String(at.length) },
      ],
    };
  }

  close(): void {
    closeSync(this.fd);
  }
}
