/**
 * Local state images (docs/format.md, "Local state image"; docs/durability.md, "Images"): this
 * node's whole in-memory state at one LSN, so that an open loads the newest image and replays
 * only the log after it. Private to the node: signed by its node key, never sent to a peer
 * (that is what portable snapshots are for).
 *
 * Taking one: `Log.capture` picks a moment when the stores hold exactly records 1..L; each
 * store captures its section there (cheap, synchronous), and the encoding, hashing and the
 * paced write happen afterwards while writes go on. The image names L and a fingerprint of
 * record L (its kind and SHA-256 of its payload), so an image is never used over a log that no
 * longer holds the same record L (a repair cut it, or the directory was swapped).
 *
 * Loading: newest first; a file that fails any check (CRC, chunk hash, signature, fingerprint,
 * a section that does not decode) is reported and skipped, and the next older one is tried;
 * with none left the caller replays the whole log. It must never hand a store a section whose
 * file failed a check, and never delete an image that is the newest valid one.
 */
import { ConsensusStoreError, corruption } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import type { Log, Lsn } from '../log/types.ts';
import { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { DEFAULT_CHUNK_SIZE, SnapshotFileKind } from '../codec/snapshot-file.ts';
import { equalBytes } from '../codec/bytes.ts';
import { sha256 } from '../codec/merkle.ts';
import { signEd25519, verifyEd25519, type NodeKey } from '../codec/node-key.ts';
import type { ImageSection } from './context.ts';
import { ensureDurableDir, readSnapshotFile, writeSnapshotStream } from './snapshot-io.ts';

/** The images directory inside the data directory. */
export const IMAGES_DIR = 'images';
const IMAGE_SUFFIX = '.csimg';
const CONTENT_MAGIC = new TextEncoder().encode('CSIMAGE1');
const SIGN_DOMAIN = new TextEncoder().encode('consensus-store/local-image/v1\u0000');
const TRAILER_MAGIC = new TextEncoder().encode('CSIMGSIG');
const MAX_SECTIONS = 64;
/** Bytes of the content's head before the chain id. */
const HEAD_BYTES = 70;
/** Written in the writer's own byte order; read back as anything else, the image is of another machine. */
const BYTE_ORDER_MARK = 0x01020304;
const MAX_CHAIN_ID_BYTES = 1024;

/** What an open did with the images it found. */
export interface ImageLoadReport {
  /** The image the stores were loaded from, if any. */
  readonly loaded: { readonly file: string; readonly lsn: number; readonly bytes: number; readonly durationMs: number } | undefined;
  /** Images that failed a check and were skipped, newest first, with the reason. */
  readonly rejected: readonly { readonly file: string; readonly reason: string }[];
}

/** One image's decoded content, its sections still as bytes. */
export interface LoadedImage {
  readonly file: string;
  readonly lsn: number;
  readonly createdAt: number;
  readonly bytes: number;
  readonly sections: ReadonlyMap<number, Uint8Array>;
}

/** The file name of the image at `lsn` (zero-padded: names sort as LSNs do). */
export function imageFileName(lsn: number): string {
  return `image-${String(lsn).padStart(16, '0')}${IMAGE_SUFFIX}`;
}

/** The LSN an image file name stands for, or undefined for any other name. */
export function imageLsnOfName(name: string): number | undefined {
  const m = /^image-(\d{16})\.csimg$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}

/** The fingerprint of record `lsn`: SHA-256 of (u8 kind, payload); zeros for LSN 0. */
async function fingerprintOf(log: Log, lsn: number): Promise<Uint8Array> {
  if (lsn === 0) return new Uint8Array(32);
  const record = await log.get(lsn as Lsn);
  if (record === undefined) throw new Error(`record ${lsn} is not in the log`);
  const data = new Uint8Array(1 + record.payload.length);
  data[0] = record.kind;
  data.set(record.payload, 1);
  return sha256(data);
}

function signBytesOf(root: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGN_DOMAIN.length + root.length);
  out.set(SIGN_DOMAIN, 0);
  out.set(root, SIGN_DOMAIN.length);
  return out;
}

/** Options of `writeLocalImage`. */
export interface WriteImageOptions {
  readonly fs: FileSystem;
  readonly dir: string;
  readonly log: Log;
  readonly chainId: string;
  readonly nodeKey: NodeKey;
  readonly sections: readonly ImageSection[];
  readonly now: () => number;
  /** Images to keep (the newest ones); older files are removed after the new one is in place. */
  readonly keep: number;
  /** Pace the write (default true). */
  readonly pace?: boolean;
  /**
   * Write even when an image of the same LSN exists, replacing it (atomically, by rename):
   * after a compaction the state shrank while no record was written.
   */
  readonly replace?: boolean;
}

/** The image just written. */
export interface WrittenImage {
  readonly file: string;
  readonly lsn: number;
  readonly bytes: number;
}

/**
 * Captures every section at one quiescent point of `log`, writes the image file atomically,
 * and removes the images beyond `keep`. Resolves undefined when no record was written since
 * the newest image (nothing to gain).
 * @throws the file system's errors (the store is not affected: an image is an optimisation).
 */
export async function writeLocalImage(o: WriteImageOptions): Promise<WrittenImage | undefined> {
  if (o.log.capture === undefined) throw new Error('this log cannot take images');
  const captured = await o.log.capture((lsn) => ({ lsn: lsn as number, parts: o.sections.map((s) => ({ tag: s.imageTag, write: s.captureImage() })) }));
  const imagesDir = `${o.dir}/${IMAGES_DIR}`;
  await ensureDurableDir(o.fs, o.dir, imagesDir);
  const names = await o.fs.readdir(imagesDir);
  const existing = names.map(imageLsnOfName).filter((l): l is number => l !== undefined);
  if (existing.includes(captured.lsn) && o.replace !== true) return undefined;
  const fingerprint = await fingerprintOf(o.log, captured.lsn);
  const parts = imageContentParts(o.chainId, captured.lsn, o.now(), fingerprint, captured.parts);
  const trailerBody = (root: Uint8Array): Uint8Array => {
    const body = new Uint8Array(TRAILER_MAGIC.length + 32 + 64);
    body.set(TRAILER_MAGIC, 0);
    body.set(o.nodeKey.publicKey, 8);
    body.set(signEd25519(signBytesOf(root), o.nodeKey.privateKey), 40);
    return body;
  };
  const file = imageFileName(captured.lsn);
  const written = await writeSnapshotStream(o.fs, imagesDir, file, SnapshotFileKind.Image, DEFAULT_CHUNK_SIZE, parts, trailerBody, o.pace ?? true);
  // Stale temp files of crashed writers, and images beyond `keep` (newest kept).
  const keepLsns = [...new Set([...existing, captured.lsn])].sort((a, b) => b - a).slice(0, o.keep);
  let removed = false;
  for (const name of names) {
    const lsn = imageLsnOfName(name);
    if (name.endsWith('.tmp') || (lsn !== undefined && !keepLsns.includes(lsn))) {
      await o.fs.unlink(`${imagesDir}/${name}`).catch(() => undefined);
      removed = true;
    }
  }
  if (removed) await o.fs.syncDir(imagesDir);
  return { file, lsn: captured.lsn, bytes: written.bytes };
}

/**
 * The content of an image as a list of parts (the big arrays of the sections by reference):
 * the head, then each section's 16-byte header and bytes.
 */
function imageContentParts(chainId: string, lsn: number, createdAt: number, fingerprint: Uint8Array, sections: readonly { tag: number; write: (w: ImageWriter) => void }[]): Uint8Array[] {
  const chain = new TextEncoder().encode(chainId);
  const head = new Uint8Array(HEAD_BYTES + chain.length);
  const view = new DataView(head.buffer);
  head.set(CONTENT_MAGIC, 0);
  view.setUint32(8, SnapshotFileKind.Image, true);
  view.setUint32(12, sections.length, true);
  view.setBigUint64(16, BigInt(lsn), true);
  view.setBigUint64(24, BigInt(createdAt), true);
  head.set(fingerprint, 32);
  // In this machine's own byte order: the sections' typed arrays are, too.
  head.set(new Uint8Array(new Uint32Array([BYTE_ORDER_MARK]).buffer), 64);
  view.setUint16(68, chain.length, true);
  head.set(chain, HEAD_BYTES);
  const parts: Uint8Array[] = [head];
  for (const s of sections) {
    const w = new ImageWriter();
    s.write(w);
    const length = w.length;
    const sectionHead = new Uint8Array(16);
    const sv = new DataView(sectionHead.buffer);
    sv.setUint32(0, s.tag, true);
    sv.setBigUint64(8, BigInt(length), true);
    parts.push(sectionHead, ...w.parts());
  }
  return parts;
}

/** Decodes an image's content. @throws Error on anything malformed. */
function decodeImageContent(content: Uint8Array): { chainId: string; lsn: number; createdAt: number; fingerprint: Uint8Array; sections: Map<number, Uint8Array> } {
  if (content.length < HEAD_BYTES || !equalBytes(content.subarray(0, 8), CONTENT_MAGIC)) throw new Error('image content has a bad magic');
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  if (view.getUint32(8, true) !== SnapshotFileKind.Image) throw new Error('image content is not of kind image');
  const count = view.getUint32(12, true);
  if (count > MAX_SECTIONS) throw new Error(`image has ${count} sections`);
  const lsn = Number(view.getBigUint64(16, true));
  const createdAt = Number(view.getBigUint64(24, true));
  if (!Number.isSafeInteger(lsn) || !Number.isSafeInteger(createdAt)) throw new Error('image LSN or time out of range');
  const fingerprint = content.slice(32, 64);
  if (new Uint32Array(content.slice(64, 68).buffer)[0] !== BYTE_ORDER_MARK) throw new Error('image was written on a machine of another byte order');
  const chainLength = view.getUint16(68, true);
  if (chainLength > MAX_CHAIN_ID_BYTES || HEAD_BYTES + chainLength > content.length) throw new Error('image chain id is out of range');
  const chainId = new TextDecoder('utf-8', { fatal: true }).decode(content.subarray(HEAD_BYTES, HEAD_BYTES + chainLength));
  const sections = new Map<number, Uint8Array>();
  let at = HEAD_BYTES + chainLength;
  for (let i = 0; i < count; i++) {
    if (at + 16 > content.length) throw new Error(`image section ${i} header is truncated`);
    const tag = view.getUint32(at, true);
    const length = view.getBigUint64(at + 8, true);
    if (length > BigInt(content.length - at - 16)) throw new Error(`image section ${tag} is longer than the content`);
    if (sections.has(tag)) throw new Error(`image section ${tag} is repeated`);
    sections.set(tag, content.subarray(at + 16, at + 16 + Number(length)));
    at += 16 + Number(length);
  }
  if (at !== content.length) throw new Error(`image content has ${content.length - at} trailing bytes`);
  return { chainId, lsn, createdAt, fingerprint, sections };
}

/**
 * Reads and checks one image file: container checks, the node key's signature, the chain id,
 * and the fingerprint of record L in `log`.
 * @throws ConsensusStoreError CORRUPTION, or Error, naming what failed.
 */
export async function readLocalImage(fs: FileSystem, dir: string, file: string, log: Log, chainId: string, publicKey: Uint8Array | 'carried'): Promise<LoadedImage> {
  const path = `${dir}/${IMAGES_DIR}/${file}`;
  const parts = await readSnapshotFile(fs, path, SnapshotFileKind.Image);
  const t = parts.trailer;
  if (t.length !== 104 || !equalBytes(t.subarray(0, 8), TRAILER_MAGIC)) throw corruption(path, 0, 'image trailer is malformed');
  // 'carried': the key the image names (a lost-key rotation: the node's images were signed by
  // the key it lost; the record the image was taken after still anchors it to this log).
  const key = publicKey === 'carried' ? t.slice(8, 40) : publicKey;
  if (!equalBytes(t.subarray(8, 40), key)) throw new Error('image was signed by another node key');
  if (!verifyEd25519(t.subarray(40, 104), signBytesOf(parts.header.root), key)) throw corruption(path, 0, 'image signature does not verify');
  const decoded = decodeImageContent(parts.content);
  if (decoded.chainId !== chainId) throw new Error(`image is of chain ${JSON.stringify(decoded.chainId)}`);
  if (imageLsnOfName(file) !== decoded.lsn) throw new Error(`image file name does not match its LSN ${decoded.lsn}`);
  if (decoded.lsn >= log.nextLsn) throw new Error(`image is at LSN ${decoded.lsn}, beyond the log's last record ${log.nextLsn - 1}`);
  // A repair not yet recorded by the stores dropped records the image holds (a gap before its
  // LSN, docs/durability.md, D5): the stores replay the log as it is now, and see the gap.
  const dropped = log.openReport.pendingRepairs.find((p) => p.firstLostLsn !== undefined && p.firstLostLsn <= decoded.lsn);
  if (dropped !== undefined) throw new Error(`image is at LSN ${decoded.lsn}, after records a repair dropped (from LSN ${dropped.firstLostLsn})`);
  let fingerprint: Uint8Array;
  try {
    fingerprint = await fingerprintOf(log, decoded.lsn);
  } catch (err) {
    // Damage in the log under the image: its location travels on (an open that then has no image names it).
    if (err instanceof ConsensusStoreError && err.code === 'CORRUPTION' && err.location !== undefined) {
      throw new ConsensusStoreError('CORRUPTION', `image's record ${decoded.lsn}: ${err.message}`, { location: err.location, cause: err });
    }
    throw new Error(`image's record ${decoded.lsn}: ${(err as Error).message}`);
  }
  if (!equalBytes(fingerprint, decoded.fingerprint)) throw new Error(`the log's record ${decoded.lsn} is not the one the image was taken after`);
  return { file, lsn: decoded.lsn, createdAt: decoded.createdAt, bytes: parts.content.length, sections: decoded.sections };
}

/** The image files of `dir`, newest first. */
export async function listImages(fs: FileSystem, dir: string): Promise<string[]> {
  const imagesDir = `${dir}/${IMAGES_DIR}`;
  if ((await fs.stat(imagesDir)) === undefined) return [];
  const names = await fs.readdir(imagesDir);
  return names.filter((n) => imageLsnOfName(n) !== undefined).sort((a, b) => (imageLsnOfName(b) as number) - (imageLsnOfName(a) as number));
}

/**
 * Removes every image at or after `fromLsn` (durably): a repair dropped records they hold, and
 * once the repair is recorded nothing else would keep an open from loading them.
 * @throws the file system's errors.
 */
export async function removeImagesFrom(fs: FileSystem, dir: string, fromLsn: number): Promise<number> {
  let removed = 0;
  for (const name of await listImages(fs, dir)) {
    if ((imageLsnOfName(name) as number) < fromLsn) continue;
    await fs.unlink(`${dir}/${IMAGES_DIR}/${name}`);
    removed++;
  }
  if (removed > 0) await fs.syncDir(`${dir}/${IMAGES_DIR}`);
  return removed;
}

/**
 * Loads `image` into `sections` (fresh stores). Every section the image holds must have a
 * store and every store a section.
 * @throws Error naming the section that failed.
 */
export function loadSections(image: LoadedImage, sections: readonly ImageSection[]): void {
  if (image.sections.size !== sections.length) throw new Error(`image has ${image.sections.size} sections; this version has ${sections.length} stores`);
  for (const s of sections) {
    const bytes = image.sections.get(s.imageTag);
    if (bytes === undefined) throw new Error(`image has no section ${s.imageTag}`);
    try {
      s.loadImage(new ImageReader(bytes));
    } catch (err) {
      throw new Error(`image section ${s.imageTag}: ${(err as Error).message}`);
    }
  }
}
