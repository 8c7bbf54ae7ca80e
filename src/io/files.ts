/**
 * Bounded reads of files a user names: only regular files are read (a FIFO, a
 * device such as /dev/zero or a directory is refused, and opening never
 * blocks), and every read asks for an exact number of bytes, so a reader can
 * bound what it reads by what a header declares.
 * @internal
 */
import * as fs from 'node:fs';

/** An open regular file, read at explicit offsets. */
export interface RegularFile {
  readonly fd: number;
  /** Size in bytes when opened. */
  readonly size: number;
}

function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens `path` for reading, refusing anything but a regular file. The open is
 * non-blocking (a FIFO with no writer would otherwise block forever) and the
 * check uses the opened descriptor, so the file cannot be swapped in between.
 * Throws an Error whose message is the reason (the caller adds its prefix).
 */
export function openRegularFile(path: string): RegularFile {
  if (typeof path !== 'string' || path === '') throw new TypeError(`the path must be a non-empty string, got ${path === '' ? '""' : typeof path}`);
  const flags = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);
  const fd = fs.openSync(path, flags);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path} is ${kindOf(st)}, not a regular file; only regular files are read`);
    return { fd, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Reads exactly `n` bytes at `position`; a file that ends early (it shrank since it was opened) throws. */
export function readExactly(f: RegularFile, position: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let off = 0;
  while (off < n) {
    const got = fs.readSync(f.fd, out, off, n - off, position + off);
    if (got === 0) throw new Error(`the file ended after ${position + off} bytes, but ${position + n} were expected (it changed while being read)`);
    off += got;
  }
  return out;
}

/** Closes quietly (used in `finally`). */
export function closeFile(f: RegularFile): void {
  try {
    fs.closeSync(f.fd);
  } catch {
    // already failing or done: nothing useful to report
  }
}

/**
 * Opens `path` as {@link openRegularFile} does and runs `body` with a bounded
 * reader, closing the file afterwards. Any failure to open or read becomes
 * `fail("cannot read file: <why>", cause)`, so a reader reports it with its own
 * prefix (`idx: <path>: …`, `safetensors: <path>: …`).
 */
export function withRegularFile<T>(
  path: string,
  fail: (why: string, cause: unknown) => Error,
  body: (read: (position: number, n: number) => Buffer, size: number) => T,
): T {
  const cannot = (err: unknown): Error => fail(`cannot read file: ${err instanceof Error ? err.message : String(err)}`, err);
  let f: RegularFile;
  try {
    f = openRegularFile(path);
  } catch (err) {
    throw cannot(err);
  }
  const opened = f;
  try {
    return body((position, n) => {
      try {
        return readExactly(opened, position, n);
      } catch (err) {
        throw cannot(err);
      }
    }, opened.size);
  } finally {
    closeFile(opened);
  }
}
