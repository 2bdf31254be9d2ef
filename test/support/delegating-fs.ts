// A FileSystem that forwards every call to `fs`, with some methods replaced: the shared shape
// of the tests' counting, recording and rebinding wrappers.
import type { FileSystem } from '../../src/io/types.ts';

/** Forwards every method to `fs`, except those given in `overrides`. */
export function delegatingFs(fs: FileSystem, overrides: Partial<FileSystem> = {}): FileSystem {
  return {
    open: (p, m, o) => fs.open(p, m, o),
    readFile: (p) => fs.readFile(p),
    rename: (a, b) => fs.rename(a, b),
    unlink: (p) => fs.unlink(p),
    mkdir: (p) => fs.mkdir(p),
    readdir: (p) => fs.readdir(p),
    rmdir: (p) => fs.rmdir(p),
    stat: (p) => fs.stat(p),
    syncDir: (p) => fs.syncDir(p),
    lock: (p) => fs.lock(p),
    ...overrides,
  };
}
