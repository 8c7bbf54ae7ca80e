/**
 * Crash-safe file replacement.
 *
 * Writers of checkpoints, datasets and metrics files must never leave a
 * half-written file behind: a reader (or a resumed training run) should see
 * either the complete old contents or the complete new contents. The classic
 * recipe is used: write to a temporary file in the *same directory* (so the
 * final rename cannot cross a file-system boundary), flush it to stable
 * storage, then atomically rename it over the target.
 *
 * @module
 */

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** This machine's name as it appears in temp file names (letters, digits and '-'; at most 32). */
const HOST = (os.hostname().replace(/[^A-Za-z0-9-]/g, '-').slice(0, 32) || 'host');

/**
 * Builds the temporary file name used by {@link writeFileAtomic}:
 * `.<name>.<host>.<pid>.<random>.tmp`, next to the target. The leading dot
 * hides it from casual directory listings; pid + random suffix make collisions
 * between concurrent writers practically impossible, and host + pid say whose
 * it is, so a later save can remove the temp files of writers that died.
 */
function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  const rand = crypto.randomBytes(6).toString('hex');
  return path.join(dir, `.${base}.${HOST}.${process.pid}.${rand}.tmp`);
}

function showArg(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return typeof v === 'number' ? String(v) : typeof v;
}

/**
 * Why a write of `target` failed, in words (the fs error names the temp file,
 * which the user never asked for): a missing directory, no permission, a full
 * disk, or the fs message.
 */
export function writeFailure(err: unknown, target: string): string {
  const e = err as NodeJS.ErrnoException;
  const dir = path.dirname(target);
  switch (e?.code) {
    case 'ENOENT': return `the directory ${dir} does not exist`;
    case 'ENOTDIR': return `${dir} is not a directory`;
    case 'EACCES': case 'EPERM': return `permission denied writing in ${dir} (${e.code})`;
    case 'ENOSPC': return 'no space left on the device (ENOSPC)';
    case 'EDQUOT': return 'the disk quota is exceeded (EDQUOT)';
    case 'EROFS': return `${dir} is on a read-only file system (EROFS)`;
    case 'EISDIR': return `${target} is a directory`;
    default: return e instanceof Error ? e.message : String(err);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether a process with this id exists on this machine (EPERM: it exists, owned by someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files that writers of `target` on this machine left when
 * they died mid-write (killed, out of power): `.<name>.<host>.<pid>.<random>.tmp`
 * whose pid is no longer running. Temp files of live processes, of other
 * machines (a shared file system) and of this process are left alone.
 * Best effort: a failure to list or remove is ignored. Returns what was removed.
 */
export function removeStaleTempFiles(target: string): string[] {
  const dir = path.dirname(target);
  const base = path.basename(target);
  const re = new RegExp(`^\\.${escapeRegExp(base)}\\.${escapeRegExp(HOST)}\\.(\\d+)\\.[0-9a-f]{12}\\.tmp$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      fs.unlinkSync(path.join(dir, name));
      removed.push(name);
    } catch {
      // another writer removed it first, or it is not ours to remove
    }
  }
  return removed;
}

/** Writes all of `bytes` to `fd`, looping over short writes. */
function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.byteLength) {
    off += fs.writeSync(fd, bytes, off, bytes.byteLength - off);
  }
}

/**
 * Best-effort fsync of a directory so that the rename itself is durable.
 * Not supported on every platform (e.g. Windows), so failures are ignored:
 * the data is already safe, only the directory entry might lag behind.
 */
function fsyncDirBestEffort(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Ignored: directory fsync is an optional durability improvement.
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // Ignored.
      }
    }
  }
}

/**
 * Atomically replaces the file at `target` with `data`.
 *
 * The data is written to `.<name>.<host>.<pid>.<random>.tmp` in the target's
 * directory, fsync'ed, and renamed over `target`. On any failure the
 * temporary file is removed, an existing `target` is left untouched, and the
 * original error is re-thrown. A process killed mid-write cannot clean up, so
 * each write first removes the temp files of dead writers of the same target
 * ({@link removeStaleTempFiles}).
 *
 * @param target - Destination path; its directory must already exist.
 * @param data - File contents; strings are encoded as UTF-8.
 * @throws The underlying `fs` error if any step fails.
 */
export function writeFileAtomic(target: string, data: Uint8Array | string): void {
  if (typeof target !== 'string' || target === '') throw new TypeError(`writeFileAtomic: path must be a non-empty string, got ${showArg(target)}`);
  if (typeof data !== 'string' && !(data instanceof Uint8Array))
    throw new TypeError(`writeFileAtomic: data must be a Uint8Array or a string, got ${showArg(data)}`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  removeStaleTempFiles(target);
  const tmp = tempPathFor(target);
  let fd: number | undefined;
  try {
    // 'wx' = create exclusively: never clobber someone else's temp file.
    fd = fs.openSync(tmp, 'wx', 0o666);
    writeAll(fd, bytes);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // Ignored: we are already failing with a more useful error.
      }
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Ignored: the temp file may never have been created.
    }
    throw err;
  }
  fsyncDirBestEffort(path.dirname(target));
}
