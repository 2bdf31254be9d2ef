/**
 * Reading and writing snapshot files (the container of `codec/snapshot-file.ts`) through the
 * file-system interface: portable snapshots and local state images alike.
 *
 * A file is written as `<name>.tmp`, in pieces with a yield to the event loop between them and
 * an fdatasync every few MiB (so a concurrent vote's fdatasync never waits behind one huge
 * flush), then fdatasync'ed, renamed into place and the directory fsync'ed: a crash leaves the
 * old set of files or the new one, and at worst a `.tmp` that the next writer removes.
 *
 * Reading checks everything before it is used: the header (magic, version, CRC, bounds), the
 * file's size against the header, the leaf table against the root, each chunk against its
 * leaf, the trailer's CRC. It must never allocate more than the file actually holds and never
 * hand out a byte that failed its check.
 */
import { corruption } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import {
  chunkLeafHash,
  chunkLength,
  chunksOffset,
  decodeSnapshotHeader,
  encodeSnapshotHeader,
  openTrailer,
  packLeaves,
  sealTrailer,
  snapshotFileSize,
  snapshotRoot,
  SNAPSHOT_HEADER_BYTES,
  unpackLeaves,
  SnapshotFileKind,
  type SnapshotFileHeader,
} from '../codec/snapshot-file.ts';
import { equalBytes } from '../codec/bytes.ts';
import { HASH_BYTES } from '../codec/merkle.ts';
import { decodeSnapshotHead, type SnapshotContentHead } from '../codec/snapshot-content.ts';
import { decodeAttestations, decodeEnvelope, type EnvelopeAttestation } from '../codec/snapshot-envelope.ts';

/** Bytes written between two fdatasyncs of a snapshot file. */
const SYNC_EVERY_BYTES = 8 << 20;

/** A snapshot file's parts, as written or as read and checked. */
export interface SnapshotFileParts {
  readonly header: SnapshotFileHeader;
  /** The chunk leaves (checked against the root). */
  readonly leaves: readonly Uint8Array[];
  /** The content (every chunk checked against its leaf). */
  readonly content: Uint8Array;
  /** The trailer's body (CRC checked). */
  readonly trailer: Uint8Array;
}


/**
 * Creates `dir` (inside `parent`) if it is missing, durably: the new directory's entry is
 * fsync'ed in `parent`, so a file later renamed into `dir` and fsync'ed there cannot vanish
 * with its directory at a power cut.
 */
export async function ensureDurableDir(fs: FileSystem, parent: string, dir: string): Promise<void> {
  if ((await fs.stat(dir)) !== undefined) return;
  await fs.mkdir(dir);
  await fs.syncDir(parent);
}

/** Where a file's trailer starts. */
export function trailerOffset(header: SnapshotFileHeader): number {
  return chunksOffset(header.chunkCount) + header.contentLength;
}

/**
 * Writes a small file `dir/name` atomically: a temp file written and fdatasync'ed in one call,
 * renamed into place, then (unless the caller syncs the directory once for many files) the
 * directory fsync'ed. A failure leaves at most the temp file, which it tries to remove.
 */
export async function writeFileAtomically(fs: FileSystem, dir: string, name: string, bytes: Uint8Array, syncDir = true): Promise<void> {
  const tmp = `${dir}/${name}.tmp`;
  const handle = await fs.open(tmp, 'create');
  try {
    await handle.truncate(0);
    await handle.writeAndSync([bytes], 0);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await fs.rename(tmp, `${dir}/${name}`);
  if (syncDir) await fs.syncDir(dir);
}

/** What `writeSnapshotStream` wrote. */
export interface StreamedSnapshot {
  readonly header: SnapshotFileHeader;
  readonly leaves: readonly Uint8Array[];
  /** The trailer's body. */
  readonly trailer: Uint8Array;
  /** Bytes of the whole file. */
  readonly bytes: number;
}

/**
 * Writes a snapshot file whose content is `parts` (in order), atomically as
 * `writeFileAtomically` does, without ever holding the content in one buffer or blocking the
 * event loop for more than one chunk: each chunk is copied into a buffer of `chunkSize` bytes,
 * hashed, written at its place, and the loop yields; the header and leaf table are written
 * last, at the front, once the root is known; an fdatasync every few MiB, and one at the end.
 * Without `pace` (a close, where nothing else waits) it neither yields nor syncs early.
 */
export async function writeSnapshotStream(
  fs: FileSystem,
  dir: string,
  name: string,
  kind: SnapshotFileKind,
  chunkSize: number,
  parts: readonly Uint8Array[],
  trailerBody: (root: Uint8Array) => Uint8Array,
  pace = true,
): Promise<StreamedSnapshot> {
  const contentLength = parts.reduce((n, p) => n + p.length, 0);
  if (contentLength === 0) throw new RangeError('a snapshot file needs content');
  const chunkCount = Math.ceil(contentLength / chunkSize);
  const base = chunksOffset(chunkCount);
  const tmp = `${dir}/${name}.tmp`;
  const handle = await fs.open(tmp, 'create');
  try {
    await handle.truncate(0);
    const chunk = new Uint8Array(Math.min(chunkSize, contentLength));
    const leaves: Uint8Array[] = [];
    let fill = 0;
    let unsynced = 0;
    const flush = async (): Promise<void> => {
      const index = leaves.length;
      const bytes = chunk.subarray(0, fill);
      leaves.push(chunkLeafHash(index, bytes));
      await handle.write([bytes], base + index * chunkSize);
      unsynced += fill;
      fill = 0;
      if (!pace) return;
      if (unsynced >= SYNC_EVERY_BYTES) {
        await handle.datasync();
        unsynced = 0;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    };
    for (const part of parts) {
      for (let off = 0; off < part.length; ) {
        const n = Math.min(chunk.length - fill, part.length - off);
        chunk.set(part.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill === chunk.length) await flush();
      }
    }
    if (fill > 0) await flush();
    const root = snapshotRoot(leaves);
    const body = trailerBody(root);
    const trailer = sealTrailer(body);
    const header: SnapshotFileHeader = { kind, chunkSize, chunkCount, contentLength, root, trailerLength: trailer.length };
    await handle.write([encodeSnapshotHeader(header), packLeaves(leaves)], 0);
    await handle.write([trailer], base + contentLength);
    await handle.datasync();
    await handle.close();
    await fs.rename(tmp, `${dir}/${name}`);
    await fs.syncDir(dir);
    return { header, leaves, trailer: body, bytes: base + contentLength + trailer.length };
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Reads exactly `length` bytes at `position`; CORRUPTION (naming the file) when the file is shorter. */
async function readExactly(handle: { read(b: Uint8Array, p: number): Promise<number> }, path: string, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await handle.read(out.subarray(got), position + got);
    if (n === 0) throw corruption(path, position + got, 'snapshot file is truncated');
    got += n;
  }
  return out;
}

/**
 * Reads and checks a whole snapshot file.
 * @throws ConsensusStoreError CORRUPTION naming the file and what failed (the chunk, by index).
 */
export async function readSnapshotFile(fs: FileSystem, path: string, expectKind: SnapshotFileKind): Promise<SnapshotFileParts> {
  const handle = await fs.open(path, 'read');
  try {
    const size = await handle.size();
    const headerBytes = await readExactly(handle, path, 0, Math.min(size, SNAPSHOT_HEADER_BYTES));
    let header: SnapshotFileHeader;
    try {
      header = decodeSnapshotHeader(headerBytes);
    } catch (err) {
      throw corruption(path, 0, `snapshot header: ${(err as Error).message}`);
    }
    if (header.kind !== expectKind) throw corruption(path, 12, `snapshot file is of kind ${header.kind}, not ${expectKind}`);
    if (snapshotFileSize(header) !== size) throw corruption(path, 0, `snapshot file has ${size} bytes; its header describes ${snapshotFileSize(header)}`);
    const table = await readExactly(handle, path, SNAPSHOT_HEADER_BYTES, header.chunkCount * HASH_BYTES);
    const leaves = unpackLeaves(table);
    if (!equalBytes(snapshotRoot(leaves), header.root)) throw corruption(path, SNAPSHOT_HEADER_BYTES, 'snapshot leaf table does not match its root');
    const content = new Uint8Array(header.contentLength);
    const base = chunksOffset(header.chunkCount);
    for (let i = 0; i < header.chunkCount; i++) {
      const at = i * header.chunkSize;
      const chunk = content.subarray(at, at + chunkLength(header, i));
      const n = await handle.read(chunk, base + at);
      if (n !== chunk.length) throw corruption(path, base + at + n, `snapshot chunk ${i} is truncated`);
      if (!equalBytes(chunkLeafHash(i, chunk), leaves[i]!)) throw corruption(path, base + at, `snapshot chunk ${i} does not match its hash`);
    }
    const sealed = await readExactly(handle, path, trailerOffset(header), header.trailerLength);
    let trailer: Uint8Array;
    try {
      trailer = openTrailer(sealed);
    } catch (err) {
      throw corruption(path, trailerOffset(header), `snapshot trailer: ${(err as Error).message}`);
    }
    return { header, leaves, content, trailer };
  } finally {
    await handle.close();
  }
}

/** What listing a portable snapshot needs, checked (see `readSnapshotSummary`). */
export interface SnapshotSummary {
  readonly header: SnapshotFileHeader;
  readonly leaves: readonly Uint8Array[];
  /** The content's head (in chunk 0). */
  readonly head: SnapshotContentHead;
  readonly envelope: { readonly createdAt: number; readonly attestations: EnvelopeAttestation[] };
}

/**
 * Reads and checks what describes a portable snapshot without reading it whole: the header,
 * the file's size, the leaf table against the root, chunk 0 against its leaf (it holds the
 * content head), the trailer.
 * @throws Error naming what failed (the caller names the file).
 */
export async function readSnapshotSummary(fs: FileSystem, path: string): Promise<SnapshotSummary> {
  const handle = await fs.open(path, 'read');
  try {
    const size = await handle.size();
    const headerBytes = new Uint8Array(Math.min(size, SNAPSHOT_HEADER_BYTES));
    await handle.read(headerBytes, 0);
    const header = decodeSnapshotHeader(headerBytes);
    if (header.kind !== SnapshotFileKind.Portable || snapshotFileSize(header) !== size) throw new Error('snapshot file kind or size does not match its header');
    const table = new Uint8Array(header.chunkCount * HASH_BYTES);
    if ((await handle.read(table, SNAPSHOT_HEADER_BYTES)) !== table.length) throw new Error('snapshot leaf table is truncated');
    const leaves = unpackLeaves(table);
    if (!equalBytes(snapshotRoot(leaves), header.root)) throw new Error('snapshot leaf table does not match its root');
    const chunk0 = new Uint8Array(chunkLength(header, 0));
    if ((await handle.read(chunk0, chunksOffset(header.chunkCount))) !== chunk0.length) throw new Error('snapshot chunk 0 is truncated');
    if (!equalBytes(chunkLeafHash(0, chunk0), leaves[0] as Uint8Array)) throw new Error('snapshot chunk 0 does not match its hash');
    const head = decodeSnapshotHead(chunk0);
    const sealed = new Uint8Array(header.trailerLength);
    if ((await handle.read(sealed, trailerOffset(header))) !== sealed.length) throw new Error('snapshot trailer is truncated');
    return { header, leaves, head, envelope: decodeEnvelope(openTrailer(sealed)) };
  } finally {
    await handle.close();
  }
}

/**
 * The attestations gathered after a snapshot was written (its `.attest` file), or none. A
 * damaged file loses only those: they can be gathered again.
 */
export async function readAttestationFile(fs: FileSystem, path: string): Promise<EnvelopeAttestation[]> {
  if ((await fs.stat(path)) === undefined) return [];
  try {
    return decodeAttestations(openTrailer(await fs.readFile(path)));
  } catch {
    return [];
  }
}
