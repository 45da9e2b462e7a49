import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Private material: keys and the daemon's token. */
export const PRIVATE_FILE = 0o600;
export const PUBLIC_FILE = 0o644;
export const PRIVATE_DIR = 0o700;

/** Creates `dir` (and parents) with mode 0700 for the folders it creates. */
export function ensureDir(dir: string, mode = PRIVATE_DIR): void {
  mkdirSync(dir, { recursive: true, mode });
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  }
}

/** Writes a temp file beside `path` (fsynced, with its final mode) and returns its name. */
export function stageFile(path: string, data: string | Uint8Array, mode: number): string {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  // openSync's mode is filtered by the umask; keys must be exactly 0600 whatever the umask says.
  chmodSync(tmp, mode);
  return tmp;
}

/** Replaces `path` atomically: temp file + fsync + rename + fsync of the folder. A reader sees the old or the new file, never a part. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = PUBLIC_FILE): void {
  const tmp = stageFile(path, data, mode);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dirname(path));
}

export interface FileToWrite {
  readonly path: string;
  readonly data: string | Uint8Array;
  readonly mode: number;
}

/**
 * Writes several files so that none is replaced until all are staged, then renames them in the
 * given order (callers put the key first). If staging fails, nothing is replaced; if a rename
 * fails part-way, the files already replaced are put back, so a reader never sees a mixed set.
 */
export function writeFilesAtomic(files: readonly FileToWrite[]): void {
  const staged: string[] = [];
  try {
    for (const f of files) staged.push(stageFile(f.path, f.data, f.mode));
  } catch (err) {
    for (const tmp of staged) rmSync(tmp, { force: true });
    throw err;
  }
  // A hard link keeps each previous version reachable until every rename has succeeded.
  const backups = files.map((f) => {
    const backup = `${f.path}.${randomBytes(6).toString('hex')}.bak`;
    try {
      linkSync(f.path, backup);
      return backup;
    } catch {
      return undefined; // no previous version
    }
  });
  let done = 0;
  try {
    for (; done < files.length; done++) renameSync(staged[done] as string, (files[done] as FileToWrite).path);
  } catch (err) {
    for (let i = 0; i < done; i++) {
      const backup = backups[i];
      if (backup) renameSync(backup, (files[i] as FileToWrite).path);
      else rmSync((files[i] as FileToWrite).path, { force: true });
    }
    for (let i = done; i < files.length; i++) rmSync(staged[i] as string, { force: true });
    for (const b of backups) if (b) rmSync(b, { force: true });
    throw err;
  }
  for (const b of backups) if (b) rmSync(b, { force: true });
  for (const dir of new Set(files.map((f) => dirname(f.path)))) fsyncDir(dir);
}
