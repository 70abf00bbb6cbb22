// The RVQ KV codec for one layer and one of K/V: token rows [tokens, W] <-> codes + fp16 scales, and the
// contract's packed token records (codes stage-major [stage][group] at log2(C) bits, padded to a byte,
// then the fp16 scales little-endian).
import { packCodes, unpackCodes } from './bitpack.js';
import { rvqBytesPerToken, rvqCodeBytesPerToken } from './accounting.js';
import { groupLayout, groupsToRows, rowsToGroups, tokenCount } from './grouping.js';
import type { GroupLayout } from './grouping.js';
import { prepareCodebook } from './nearest.js';
import type { PreparedCodebook } from './nearest.js';
import { residualDecode, residualEncode } from './residual.js';
import { checkDepth, codeBits } from './spec.js';
import type { RvqSpec } from './spec.js';

export interface RvqEncoded {
  tokens: number;
  /** Stages present (a prefix of the spec's depth). */
  depth: number;
  /** [tokens, depth, G]: for each token the codes stage-major, the layout of the token record. */
  codes: Uint32Array;
  /** [tokens, scalesPerToken] fp16 bits. */
  scales: Uint16Array;
}

export class RvqCodec {
  readonly spec: RvqSpec;
  /** [depth, C, groupSize] float32. */
  readonly codebooks: Float32Array;
  private readonly layout: GroupLayout;
  private readonly books: PreparedCodebook[];

  constructor(spec: RvqSpec, codebooks: Float32Array) {
    const stride = spec.codebookSize * spec.groupSize;
    if (codebooks.length !== spec.depth * stride) {
      throw new Error(`codebooks hold ${codebooks.length} values; spec needs depth ${spec.depth} x C ${spec.codebookSize} x groupSize ${spec.groupSize} = ${spec.depth * stride}`);
    }
    this.spec = spec;
    this.codebooks = codebooks;
    this.layout = groupLayout(spec);
    this.books = Array.from({ length: spec.depth }, (_, s) => prepareCodebook(codebooks.subarray(s * stride, (s + 1) * stride), spec.codebookSize, spec.groupSize));
  }

  /** Channels per token row. */
  get width(): number {
    return this.layout.width;
  }

  /** Encodes rows [tokens, W] greedily to `depth` stages. */
  encode(rows: Float32Array, depth = this.spec.depth): RvqEncoded {
    checkDepth(depth, this.spec.depth);
    const { width, groups, scalesPerToken } = this.layout;
    const tokens = tokenCount(rows, width);
    const count = tokens * groups;
    const vectors = new Float32Array(rows.length);
    const scales = new Uint16Array(tokens * scalesPerToken);
    rowsToGroups(this.layout, rows, tokens, vectors, scales);
    const stageMajor = new Uint32Array(depth * count);
    residualEncode(this.books, depth, vectors, count, stageMajor);
    const codes = new Uint32Array(depth * count);
    for (let s = 0; s < depth; s++) {
      for (let i = 0; i < tokens; i++) {
        codes.set(stageMajor.subarray(s * count + i * groups, s * count + (i + 1) * groups), (i * depth + s) * groups);
      }
    }
    return { tokens, depth, codes, scales };
  }

  /** Reconstructs rows [tokens, W] from the first `depth` stages (any depth up to the encoded one). */
  decode(encoded: RvqEncoded, depth = encoded.depth): Float32Array {
    checkDepth(depth, encoded.depth);
    const { width, groups } = this.layout;
    const { tokens } = encoded;
    const count = tokens * groups;
    const stageMajor = new Uint32Array(depth * count);
    for (let i = 0; i < tokens; i++) {
      for (let s = 0; s < depth; s++) {
        const from = (i * encoded.depth + s) * groups;
        stageMajor.set(encoded.codes.subarray(from, from + groups), s * count + i * groups);
      }
    }
    const vectors = new Float32Array(tokens * width);
    residualDecode(this.books, depth, stageMajor, count, vectors);
    const rows = new Float32Array(tokens * width);
    groupsToRows(this.layout, vectors, encoded.scales, tokens, rows);
    return rows;
  }

  /** Packs token records of `depth` stages (a prefix when depth < encoded.depth), tokens back to back. */
  toRecords(encoded: RvqEncoded, depth = encoded.depth): Uint8Array {
    checkDepth(depth, encoded.depth);
    const { groups, scalesPerToken } = this.layout;
    const recordBytes = rvqBytesPerToken(this.spec, depth);
    const codeBytes = rvqCodeBytesPerToken(this.spec, depth);
    const bytes = new Uint8Array(encoded.tokens * recordBytes);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < encoded.tokens; i++) {
      const from = i * encoded.depth * groups;
      packCodes(encoded.codes.subarray(from, from + depth * groups), codeBits(this.spec), bytes, i * recordBytes * 8);
      for (let s = 0; s < scalesPerToken; s++) view.setUint16(i * recordBytes + codeBytes + 2 * s, encoded.scales[i * scalesPerToken + s], true);
    }
    return bytes;
  }

  /** Reads token records of `depth` stages written by toRecords. */
  fromRecords(bytes: Uint8Array, depth = this.spec.depth): RvqEncoded {
    checkDepth(depth, this.spec.depth);
    const { groups, scalesPerToken } = this.layout;
    const recordBytes = rvqBytesPerToken(this.spec, depth);
    if (bytes.length % recordBytes !== 0) throw new RangeError(`${bytes.length} bytes is not a whole number of ${recordBytes}-byte depth-${depth} token records`);
    const codeBytes = rvqCodeBytesPerToken(this.spec, depth);
    const tokens = bytes.length / recordBytes;
    const codes = new Uint32Array(tokens * depth * groups);
    const scales = new Uint16Array(tokens * scalesPerToken);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < tokens; i++) {
      unpackCodes(bytes, codeBits(this.spec), depth * groups, codes.subarray(i * depth * groups), i * recordBytes * 8);
      for (let s = 0; s < scalesPerToken; s++) scales[i * scalesPerToken + s] = view.getUint16(i * recordBytes + codeBytes + 2 * s, true);
    }
    return { tokens, depth, codes, scales };
  }
}
