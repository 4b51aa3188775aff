// Reading a file that a user (or a stranger's dataset) names: only a regular file, only up to a size that file can
// plausibly have, and never waiting on it. readFileSync would read /dev/zero until memory runs out and block the
// event loop on a FIFO until someone writes to it; here the file is opened without blocking, checked with fstat
// (on the open descriptor, so it cannot be swapped between the check and the read), then read to its size.
import { closeSync, constants, fstatSync, openSync, promises as fsp, readSync, type Stats } from 'node:fs';
import { UserError, type ErrorCode } from './errors';

// O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer; regular files ignore it.
// Windows has neither the flag nor FIFOs that open this way.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

export interface RegularFileRead {
  /** How errors name the file: "checkpoint /x/latest.ckpt", "/data/train/cat/1.png". */
  name: string;
  /** What the file should be, for "is a folder, not a checkpoint file". */
  kind: string;
  /** Larger files are refused before a byte is read. */
  maxBytes: number;
  code: ErrorCode;
}

export function readRegularFileSync(path: string, read: RegularFileRead): Buffer {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (e) {
    throw openError(e, read);
  }
  try {
    const size = checkStats(fstatSync(fd), read);
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const n = readSync(fd, out, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    return checkComplete(out, at, read);
  } catch (e) {
    throw readError(e, read);
  } finally {
    closeSync(fd);
  }
}

export async function readRegularFile(path: string, read: RegularFileRead): Promise<Buffer> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, OPEN_FLAGS);
  } catch (e) {
    throw openError(e, read);
  }
  try {
    const size = checkStats(await handle.stat(), read);
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await handle.read(out, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return checkComplete(out, at, read);
  } catch (e) {
    throw readError(e, read);
  } finally {
    await handle.close();
  }
}

function checkStats(st: Stats, read: RegularFileRead): number {
  if (st.isDirectory()) throw new UserError(read.code, `${read.name} is a folder, not ${read.kind}`);
  if (!st.isFile()) throw new UserError(read.code, `${read.name} is not a regular file (a device, a pipe or a socket), so it cannot be ${read.kind}`);
  if (st.size > read.maxBytes) {
    throw new UserError(read.code, `${read.name} is ${bytes(st.size)} bytes, more than ${read.kind} can be (at most ${bytes(read.maxBytes)})`);
  }
  return st.size;
}

// A file that shrank while it was read is reported as changed; one that grew is read to the size fstat gave
// (what is beyond it is not looked at), and the format's own checks say whether that is whole.
function checkComplete(out: Buffer, got: number, read: RegularFileRead): Buffer {
  if (got !== out.length) throw new UserError(read.code, `${read.name} changed while it was being read (${bytes(got)} of ${bytes(out.length)} bytes)`);
  return out;
}

function openError(e: unknown, read: RegularFileRead): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new UserError(read.code, `${read.name} does not exist`);
  if (code === 'EISDIR') return new UserError(read.code, `${read.name} is a folder, not ${read.kind}`);
  return new UserError(read.code, `${read.name} cannot be read (${code ?? (e as Error).message})`);
}

function readError(e: unknown, read: RegularFileRead): unknown {
  if (e instanceof UserError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  return new UserError(read.code, `${read.name} cannot be read (${code ?? (e as Error).message})`);
}

const bytes = (n: number) => n.toLocaleString('en-US');
