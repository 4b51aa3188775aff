// Export to the safetensors format (huggingface/safetensors, "Format"): an 8-byte little-endian header
// length N, N bytes of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}}` (offsets relative
// to the end of the header, optional "__metadata__" of strings), padded with spaces to a multiple of 8,
// then the raw little-endian tensors. Names and shapes are PyTorch's state_dict ones, so
// `safetensors.torch.load_file` gives a state_dict that `Net().load_state_dict` takes as it is.
import { endianness } from 'node:os';
import { PARAMETERS, PARAMETER_COUNT } from '../nn/spec';
import { writeFileAtomic } from './checkpoint';

export function encodeSafetensors(params: Float32Array, metadata: Record<string, string> = {}): Buffer {
  if (params.length !== PARAMETER_COUNT) throw new Error(`expected ${PARAMETER_COUNT} parameters, got ${params.length}`);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  for (const p of PARAMETERS) {
    header[p.name] = { dtype: 'F32', shape: p.shape, data_offsets: [p.offset * 4, (p.offset + p.size) * 4] };
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + jsonBytes.length + params.length * 4);
  out.writeBigUInt64LE(BigInt(jsonBytes.length), 0);
  jsonBytes.copy(out, 8);
  const dataStart = 8 + jsonBytes.length;
  if (endianness() === 'LE') out.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), dataStart);
  else for (let i = 0; i < params.length; i++) out.writeFloatLE(params[i], dataStart + i * 4);
  return out;
}

/** Writes the parameters as OUT.safetensors, atomically (a reader never sees half a file). */
export function exportSafetensors(params: Float32Array, outFile: string, metadata: Record<string, string> = {}): void {
  writeFileAtomic(outFile, encodeSafetensors(params, metadata));
}
