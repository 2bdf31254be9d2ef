/**
 * The node key file (`<dir>/node.key`, docs/audit.md, "Node key"): loads the node's ed25519 key
 * through the FileSystem, or creates it on first use. The bytes of the file are
 * src/codec/node-key.ts's (`encodeNodeKeyFile`, `decodeNodeKeyFile`).
 *
 * A new key file is written as temp file (created afresh with mode 0600, `NODE_KEY_FILE_MODE`)
 * + datasync + rename + directory fsync, so the key is never readable by others, not even for a
 * moment. A key file that already exists is loaded as it is: its mode is the operator's
 * business. A file that is not a valid key file is never overwritten.
 *
 * This file must never log or put a private key in an error message.
 */
import { ConsensusStoreError, fromFsError } from '../errors.ts';
import { decodeNodeKeyFile, encodeNodeKeyFile, generateNodeKey, type NodeKey } from '../codec/node-key.ts';
import { errnoOf, type FileSystem } from '../io/types.ts';
import { checkString } from '../model/check.ts';

/** Permission bits a new key file is created with: owner read and write only. */
export const NODE_KEY_FILE_MODE = 0o600;

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? (i === 0 ? '/' : '.') : path.slice(0, i);
}

/**
 * Loads the node key from `path` on `fs`, or, when no file is there, generates a key and writes
 * it durably (temp + datasync + rename + directory fsync, the file created with mode 0600)
 * before returning it. The parent directory must exist.
 * @returns the key and whether it was created now.
 * @throws ConsensusStoreError INVALID_ARGUMENT (bad path), CORRUPTION (a file that is not a
 *   valid key file: never overwritten), IO_FAILED / DISK_FULL (writing failed).
 */
export async function loadOrCreateNodeKey(fs: FileSystem, path: string): Promise<{ key: NodeKey; created: boolean }> {
  checkString('path', path, 4096);
  try {
    return { key: decodeNodeKeyFile(await fs.readFile(path), path), created: false };
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw mapFsError(err, path);
  }
  const key = generateNodeKey();
  const temp = `${path}.tmp`;
  try {
    // A temp file left by a crash may have other permission bits: start from a new file, so
    // that the mode below applies (it only applies when `open` creates the file).
    await fs.unlink(temp).catch((err: unknown) => {
      if (errnoOf(err) !== 'ENOENT') throw err;
    });
    const handle = await fs.open(temp, 'create-exclusive', { fileMode: NODE_KEY_FILE_MODE });
    try {
      await handle.writeAndSync([encodeNodeKeyFile(key)], 0);
    } finally {
      await handle.close();
    }
    await fs.rename(temp, path);
    await fs.syncDir(parentOf(path));
  } catch (err) {
    throw mapFsError(err, path);
  }
  return { key, created: true };
}

function mapFsError(err: unknown, path: string): unknown {
  const typed = fromFsError(err, `key file ${path}`);
  if (typed instanceof ConsensusStoreError) return typed;
  return new ConsensusStoreError('IO_FAILED', `key file ${path}: ${String(err)}`, { cause: err });
}
