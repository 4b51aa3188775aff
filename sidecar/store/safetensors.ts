// Export to the safetensors format (huggingface/safetensors, "Format"): an 8-byte little-endian header
// length N, N bytes of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}}` (offsets relative
// to the end of the header, optional "__metadata__" of strings), padded with spaces to a multiple of 8,
// then the raw little-endian tensors. Names and shapes are PyTorch's state_dict ones, so
// `safetensors.torch.load_file` gives a state_dict that `Net().load_state_dict` takes as it is.
import { endianness } from 'node:os';
import { PARAMETERS, PARAMETER_COUNT } from '../nn/spec';
import { writeFileAtomic } from './checkpoint';

/** One tensor of a safetensors file: float32 or 32-bit integers, row-major under `shape`. */
export interface NamedTensor {
  name: string;
  dtype: 'F32' | 'I32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/** The parameters as tensors under their state_dict names (views, no copy). */
export function parameterTensors(params: Float32Array, prefix = ''): NamedTensor[] {
  if (params.length !== PARAMETER_COUNT) throw new Error(`expected ${PARAMETER_COUNT} parameters, got ${params.length}`);
  return PARAMETERS.map((p) => ({ name: prefix + p.name, dtype: 'F32', shape: p.shape, data: params.subarray(p.offset, p.offset + p.size) }));
}

export function encodeTensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + jsonBytes.length + offset);
  out.writeBigUInt64LE(BigInt(jsonBytes.length), 0);
  jsonBytes.copy(out, 8);
  let at = 8 + jsonBytes.length;
  for (const { data } of tensors) {
    if (endianness() === 'LE') out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    else if (data instanceof Float32Array) for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], at + i * 4);
    else for (let i = 0; i < data.length; i++) out.writeInt32LE(data[i], at + i * 4);
    at += data.byteLength;
  }
  return out;
}

export function encodeSafetensors(params: Float32Array, metadata: Record<string, string> = {}): Buffer {
  return encodeTensors(parameterTensors(params), metadata);
}

/** Writes the parameters as OUT.safetensors, atomically (a reader never sees half a file). */
export function exportSafetensors(params: Float32Array, outFile: string, metadata: Record<string, string> = {}): void {
  writeFileAtomic(outFile, encodeSafetensors(params, metadata));
}
