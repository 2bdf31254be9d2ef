/**
 * The cold directory's manifest, `<dir>/cold/MANIFEST` (docs/format.md, "Cold files", "The cold
 * manifest"): its version, generation, chain id, the cut (ColdCut) and the cold files
 * (ColdFileInfo). `commitColdManifest` writes a new generation atomically (temp file, fdatasync,
 * rename, directory fsync): that rename is the commit point of a compaction. `openColdDir` reads
 * it, checks every listed file is there with its size, and deletes what an interrupted
 * compaction left (temp files, files the manifest does not list).
 *
 * It must never write the manifest in place, never list a file that is not complete and
 * durable, never drop a listed file unless the caller asks for it by name (`dropFiles`), and
 * never delete anything when the manifest it read fails a check.
 */
import { join } from 'node:path';
import { crc32cUpdate, maskCrc } from '../codec/crc32c.ts';
import { equalBytes, readU32, writeU32 } from '../codec/bytes.ts';
import { ConsensusStoreError, corruption, fromFsError, invalidArgument, isStoreError } from '../errors.ts';
import { errnoOf, type FileSystem } from '../io/types.ts';
import { checkKeys, checkObject, checkSafeUint } from '../model/check.ts';
import { checkChainId, MAX_CHAIN_ID_LENGTH } from '../model/vote.ts';
import { ByteSink, ByteSource } from './cold-bytes.ts';
import { checkDir, ensureDir } from './cold-file.ts';
import { checkColdFileInfo, checkColdFileName, type ColdFileInfo } from './cold-file-info.ts';
import { NO_CUT, type ColdCut } from './types.ts';

/** The cold directory's name inside a data directory. */
export const COLD_DIR_NAME = 'cold';
/** The manifest's name inside the cold directory. */
export const COLD_MANIFEST_NAME = 'MANIFEST';
const MAGIC = new TextEncoder().encode('CSCOLDMF');
const VERSION = 1;
const FIXED_BYTES = 48;
const MAX_FILES = 1_000_000;
const FLAG_HEIGHT = 1;
const FLAG_ROUND = 2;
const FLAG_TIME = 4;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** One generation of the cold manifest. */
export interface ColdManifest {
  /** 0 for a directory with no manifest yet; +1 on every commit. */
  readonly generation: number;
  readonly chainId: string;
  readonly cut: ColdCut;
  /** The cold files, in the order they were committed. */
  readonly files: readonly ColdFileInfo[];
}

/** What `openColdDir` found. */
export interface ColdDirState {
  readonly manifest: ColdManifest;
  /** Names of the leftovers it deleted (temp files, files the manifest does not list). */
  readonly removed: readonly string[];
}

/** The next generation a compaction commits. */
export interface ColdManifestNext {
  readonly chainId: string;
  readonly cut: ColdCut;
  /** Every file of the current manifest (but those in `dropFiles`), then the new ones. */
  readonly files: readonly ColdFileInfo[];
}

/** Options of `commitColdManifest`. */
export interface ColdCommitOptions {
  /** Files of the current manifest to drop (a retention rule's decision); deleted after the commit. */
  readonly dropFiles?: readonly string[];
}

/** The cold directory of the data directory `storeDir`. */
export function coldDirOf(storeDir: string): string {
  return join(storeDir, COLD_DIR_NAME);
}

/** The manifest of a directory that has none. */
export function emptyColdManifest(chainId: string): ColdManifest {
  return { generation: 0, chainId, cut: NO_CUT, files: [] };
}

function rangeFields(lo: number, hi: number): [boolean, number, number] {
  return Number.isNaN(lo) ? [false, 0, 0] : [true, lo, hi];
}

/** The manifest's bytes. */
export function encodeColdManifest(m: ColdManifest): Uint8Array {
  const sink = new ByteSink(256 + m.files.length * 128);
  sink.bytes(MAGIC).u32(VERSION).u32(0).u32(0).u32(m.files.length);
  sink.u64(m.generation).u64(m.cut.height).u64(m.cut.lsn);
  const chain = utf8.encode(m.chainId);
  sink.u16(chain.length).bytes(chain);
  for (const f of m.files) {
    const name = utf8.encode(f.name);
    sink.u16(name.length).bytes(name);
    sink.u64(f.bytes).u32(f.checksum).u64(f.records);
    const [h, hLo, hHi] = rangeFields(f.minHeight, f.maxHeight);
    const [r, rLo, rHi] = rangeFields(f.minRound, f.maxRound);
    const [t, tLo, tHi] = rangeFields(f.minTime, f.maxTime);
    sink.u8((h ? FLAG_HEIGHT : 0) | (r ? FLAG_ROUND : 0) | (t ? FLAG_TIME : 0));
    sink.u64(f.minLsn).u64(f.maxLsn).u64(hLo).u64(hHi).u32(rLo).u32(rHi).u64(tLo).u64(tHi);
    sink.u8(f.kinds.length);
    for (const k of f.kinds) sink.u8(k.kind).u64(k.count);
  }
  const out = sink.finish();
  writeU32(out, 16, out.length);
  writeU32(out, 12, manifestCrc(out));
  return out;
}

function manifestCrc(bytes: Uint8Array): number {
  return maskCrc(crc32cUpdate(crc32cUpdate(0, bytes, 0, 12), bytes, 16, bytes.length));
}

/**
 * Decodes the manifest bytes read from `file`.
 * @throws ConsensusStoreError CORRUPTION naming `file` and the offset of the bad field;
 *   UNSUPPORTED_FORMAT for a sound manifest of another version.
 */
export function decodeColdManifest(bytes: Uint8Array, file: string): ColdManifest {
  if (bytes.length < FIXED_BYTES + 2) throw corruption(file, 0, `cold manifest too short (${bytes.length} bytes)`);
  if (!equalBytes(bytes.subarray(0, MAGIC.length), MAGIC)) throw corruption(file, 0, 'not a cold manifest (bad magic)');
  if (readU32(bytes, 16) !== bytes.length) throw corruption(file, 16, `cold manifest length ${readU32(bytes, 16)} but file has ${bytes.length} bytes`);
  if (readU32(bytes, 12) !== manifestCrc(bytes)) throw corruption(file, 12, 'cold manifest checksum mismatch');
  const version = readU32(bytes, 8);
  if (version !== VERSION) throw new ConsensusStoreError('UNSUPPORTED_FORMAT', `cold manifest ${file} version ${version} (this build reads ${VERSION})`);
  const src = new ByteSource(bytes, 20);
  let fieldAt = 20;
  const fail = (why: string): never => {
    throw corruption(file, fieldAt, `cold manifest: ${why}`);
  };
  const text = (what: string, max: number): string => {
    fieldAt = src.pos;
    const b = src.bytes(src.u16());
    try {
      const s = utf8Strict.decode(b);
      if (s.length === 0 || s.length > max) fail(`${what} length out of range`);
      return s;
    } catch (err) {
      if (isStoreError(err)) throw err;
      return fail(`${what} is not UTF-8`);
    }
  };
  try {
    const count = src.u32();
    if (count > MAX_FILES) fail(`file count ${count}`);
    fieldAt = src.pos;
    const generation = src.u64();
    const cut = { height: src.u64(), lsn: src.u64() };
    if (generation < 1) fail(`generation ${generation}`);
    const chainId = text('chain id', MAX_CHAIN_ID_LENGTH);
    const files: ColdFileInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < count; i++) {
      fieldAt = src.pos;
      const name = text(`file ${i} name`, 200);
      const size = src.u64();
      const checksum = src.u32();
      const records = src.u64();
      const flags = src.u8();
      const minLsn = src.u64();
      const maxLsn = src.u64();
      const hLo = src.u64();
      const hHi = src.u64();
      const rLo = src.u32();
      const rHi = src.u32();
      const tLo = src.u64();
      const tHi = src.u64();
      const kinds: { kind: number; count: number }[] = [];
      const kindCount = src.u8();
      for (let k = 0; k < kindCount; k++) kinds.push({ kind: src.u8(), count: src.u64() });
      if ((flags & ~7) !== 0) fail(`file ${i} flags ${flags}`);
      const span = (flag: number, lo: number, hi: number): [number, number] => {
        if ((flags & flag) !== 0) return [lo, hi];
        if (lo !== 0 || hi !== 0) fail(`file ${i} absent range is not zero`);
        return [NaN, NaN];
      };
      const [minHeight, maxHeight] = span(FLAG_HEIGHT, hLo, hHi);
      const [minRound, maxRound] = span(FLAG_ROUND, rLo, rHi);
      const [minTime, maxTime] = span(FLAG_TIME, tLo, tHi);
      const raw = { name, bytes: size, checksum, records, kinds, minHeight, maxHeight, minRound, maxRound, minLsn, maxLsn, minTime, maxTime };
      let info: ColdFileInfo;
      try {
        info = checkColdFileInfo(`file ${i}`, raw);
      } catch (err) {
        return fail((err as Error).message);
      }
      if (names.has(name)) fail(`file ${name} listed twice`);
      if (info.maxLsn > cut.lsn) fail(`file ${name} holds LSN ${info.maxLsn}, above the cut's ${cut.lsn}`);
      names.add(name);
      files.push(info);
    }
    fieldAt = src.pos;
    if (src.remaining !== 0) fail(`${src.remaining} trailing bytes`);
    return { generation, chainId, cut: Object.freeze(cut), files };
  } catch (err) {
    if (isStoreError(err)) throw err;
    throw corruption(file, fieldAt, `cold manifest: ${(err as Error).message}`);
  }
}

/** Reads `<coldDir>/MANIFEST`; undefined when absent. */
async function readColdManifest(fs: FileSystem, coldDir: string): Promise<ColdManifest | undefined> {
  const file = join(coldDir, COLD_MANIFEST_NAME);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw fromFsError(err, `reading the cold manifest ${file}`);
  }
  return decodeColdManifest(bytes, file);
}

function checkFs(fs: unknown): FileSystem {
  const o = fs as Partial<FileSystem> | null;
  if (typeof o !== 'object' || o === null || typeof o.readFile !== 'function' || typeof o.rename !== 'function') throw invalidArgument('fs', 'must be a FileSystem');
  return fs as FileSystem;
}

function chainMismatch(chainId: string, recorded: string, coldDir: string): ConsensusStoreError {
  return new ConsensusStoreError('INVALID_ARGUMENT', `chainId is '${chainId}' but the cold directory ${coldDir} belongs to chain '${recorded}'`, {
    details: { argument: 'chainId', recorded },
  });
}

/**
 * Opens the cold directory of `storeDir`: reads its manifest (none: generation 0, NO_CUT, no
 * files), checks every listed file is there with the size it records, then deletes every other
 * file of the directory (what an interrupted compaction left) and fsyncs it.
 *
 * @throws ConsensusStoreError INVALID_ARGUMENT on a bad argument or when the manifest belongs to
 *   another chain (as openStore does for the data directory); CORRUPTION naming the manifest when
 *   it fails its checks, or naming a listed file that is missing or has another size (nothing is
 *   deleted then); IO_FAILED.
 */
export async function openColdDir(fs: FileSystem, storeDir: string, chainId: string): Promise<ColdDirState> {
  checkFs(fs);
  checkDir('storeDir', storeDir);
  checkChainId('chainId', chainId);
  const coldDir = coldDirOf(storeDir);
  try {
    let entries: string[];
    try {
      entries = await fs.readdir(coldDir);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return { manifest: emptyColdManifest(chainId), removed: [] };
      throw err;
    }
    const manifest = (await readColdManifest(fs, coldDir)) ?? emptyColdManifest(chainId);
    if (manifest.chainId !== chainId) throw chainMismatch(chainId, manifest.chainId, coldDir);
    const listed = new Set<string>();
    for (const f of manifest.files) {
      const path = join(coldDir, f.name);
      const st = await fs.stat(path);
      if (st === undefined || !st.isFile) throw corruption(path, 0, `the cold manifest (generation ${manifest.generation}) lists ${f.name} but it is missing`);
      if (st.size !== f.bytes) throw corruption(path, Math.min(st.size, f.bytes), `cold file has ${st.size} bytes, the cold manifest records ${f.bytes}`);
      listed.add(f.name);
    }
    const removed: string[] = [];
    for (const name of entries.sort()) {
      if (name === COLD_MANIFEST_NAME || listed.has(name)) continue;
      const st = await fs.stat(join(coldDir, name));
      if (st === undefined || !st.isFile) continue;
      await fs.unlink(join(coldDir, name));
      removed.push(name);
    }
    if (removed.length > 0) await fs.syncDir(coldDir);
    return { manifest, removed };
  } catch (err) {
    throw fromFsError(err, `opening the cold directory ${coldDir}`);
  }
}

function checkCut(name: string, value: unknown): ColdCut {
  const o = checkObject(name, value);
  checkKeys(name, o, ['height', 'lsn']);
  return Object.freeze({ height: checkSafeUint(`${name}.height`, o['height']), lsn: checkSafeUint(`${name}.lsn`, o['lsn']) });
}

function sameInfo(a: ColdFileInfo, b: ColdFileInfo): boolean {
  return a.name === b.name && a.bytes === b.bytes && a.checksum === b.checksum && a.records === b.records && a.minLsn === b.minLsn && a.maxLsn === b.maxLsn;
}

/**
 * Commits the next generation of the cold manifest of `storeDir`: the switch of a compaction
 * (its new files already written by `writeColdFile`, hence durable), or of a retention rule
 * (`dropFiles`). Writes `MANIFEST.tmp`, fdatasyncs it, renames it over `MANIFEST` and fsyncs
 * the directory: a crash leaves the old generation or the new one, whole. Dropped files are
 * deleted after the commit (or by the next `openColdDir`).
 *
 * @returns the committed manifest (generation + 1).
 * @throws ConsensusStoreError INVALID_ARGUMENT (nothing written) on a bad argument, another
 *   chain id, a cut that moves back, a file of the current manifest missing from `next.files`
 *   and not in `dropFiles` (or listed with other facts), a dropped file that is not listed or is
 *   still in `next.files`, a file above the cut, a duplicate name, or a new file that is not in
 *   the cold directory with its size; CORRUPTION when the current manifest is damaged; IO_FAILED.
 */
export async function commitColdManifest(fs: FileSystem, storeDir: string, next: ColdManifestNext, options?: ColdCommitOptions): Promise<ColdManifest> {
  checkFs(fs);
  checkDir('storeDir', storeDir);
  const o = checkObject('next', next);
  checkKeys('next', o, ['chainId', 'cut', 'files']);
  const chainId = checkChainId('next.chainId', o['chainId']);
  const cut = checkCut('next.cut', o['cut']);
  if (!Array.isArray(o['files'])) throw invalidArgument('next.files', 'must be an array of ColdFileInfo');
  const files = (o['files'] as unknown[]).map((f, i) => checkColdFileInfo(`next.files[${i}]`, f));
  const drop = new Set<string>();
  if (options !== undefined) {
    const opts = checkObject('options', options);
    checkKeys('options', opts, ['dropFiles']);
    if (opts['dropFiles'] !== undefined) {
      if (!Array.isArray(opts['dropFiles'])) throw invalidArgument('options.dropFiles', 'must be an array of cold file names');
      (opts['dropFiles'] as unknown[]).forEach((n, i) => drop.add(checkColdFileName(`options.dropFiles[${i}]`, n)));
    }
  }
  const byName = new Map<string, ColdFileInfo>();
  files.forEach((f, i) => {
    if (byName.has(f.name)) throw invalidArgument(`next.files[${i}].name`, `${f.name} is listed twice`);
    if (f.maxLsn > cut.lsn) throw invalidArgument(`next.files[${i}]`, `holds LSN ${f.maxLsn}, above the cut's ${cut.lsn}`);
    byName.set(f.name, f);
  });
  const coldDir = coldDirOf(storeDir);
  try {
    const current = (await readColdManifest(fs, coldDir)) ?? emptyColdManifest(chainId);
    if (current.chainId !== chainId) throw chainMismatch(chainId, current.chainId, coldDir);
    if (cut.height < current.cut.height || cut.lsn < current.cut.lsn) {
      throw invalidArgument('next.cut', `{ height: ${cut.height}, lsn: ${cut.lsn} } moves back from { height: ${current.cut.height}, lsn: ${current.cut.lsn} }`);
    }
    const old = new Set(current.files.map((f) => f.name));
    for (const name of drop) {
      if (!old.has(name)) throw invalidArgument('options.dropFiles', `names ${name}, which the cold manifest does not list`);
      if (byName.has(name)) throw invalidArgument('options.dropFiles', `names ${name}, which next.files still lists`);
    }
    for (const f of current.files) {
      if (drop.has(f.name)) continue;
      const kept = byName.get(f.name);
      if (kept === undefined) throw invalidArgument('next.files', `must keep ${f.name} (generation ${current.generation} lists it; drop it with options.dropFiles)`);
      if (!sameInfo(kept, f)) throw invalidArgument('next.files', `lists ${f.name} with other facts than generation ${current.generation}`);
    }
    for (const f of files) {
      if (old.has(f.name)) continue;
      const st = await fs.stat(join(coldDir, f.name));
      if (st === undefined || !st.isFile || st.size !== f.bytes) {
        throw invalidArgument('next.files', `lists ${f.name}, which is not in ${coldDir} with ${f.bytes} bytes (write it with writeColdFile first)`);
      }
    }
    const manifest: ColdManifest = { generation: current.generation + 1, chainId, cut, files };
    await ensureDir(fs, coldDir);
    const path = join(coldDir, COLD_MANIFEST_NAME);
    const temp = `${path}.tmp`;
    const handle = await fs.open(temp, 'create');
    try {
      await handle.truncate(0);
      await handle.write([encodeColdManifest(manifest)], 0);
      await handle.datasync();
    } finally {
      await handle.close().catch(() => undefined);
    }
    await fs.rename(temp, path);
    await fs.syncDir(coldDir);
    if (drop.size > 0) {
      // After the commit point: a failure here leaves files the next openColdDir deletes.
      try {
        for (const name of drop) await fs.unlink(join(coldDir, name)).catch(() => undefined);
        await fs.syncDir(coldDir);
      } catch {
        // Nothing to report: the commit stands.
      }
    }
    return manifest;
  } catch (err) {
    throw fromFsError(err, `committing the cold manifest in ${coldDir}`);
  }
}

/**
 * The cold manifest of `storeDir` read without changing anything (the operator's tools and
 * backups, docs/operations.md): undefined when there is none; else the manifest, every listed
 * file checked to be there with the size it records. Unlike `openColdDir` it deletes nothing
 * (a live node's leftovers are its own business) and checks no chain id.
 *
 * @throws ConsensusStoreError INVALID_ARGUMENT on a bad argument; CORRUPTION naming the manifest
 *   when it fails its checks, or naming a listed file that is missing or has another size;
 *   UNSUPPORTED_FORMAT; IO_FAILED.
 */
export async function readColdDirReadOnly(fs: FileSystem, storeDir: string): Promise<ColdManifest | undefined> {
  checkFs(fs);
  checkDir('storeDir', storeDir);
  const coldDir = coldDirOf(storeDir);
  try {
    const manifest = await readColdManifest(fs, coldDir);
    if (manifest === undefined) return undefined;
    for (const f of manifest.files) {
      const path = join(coldDir, f.name);
      const st = await fs.stat(path);
      if (st === undefined || !st.isFile) throw corruption(path, 0, `the cold manifest (generation ${manifest.generation}) lists ${f.name} but it is missing`);
      if (st.size !== f.bytes) throw corruption(path, Math.min(st.size, f.bytes), `cold file has ${st.size} bytes, the cold manifest records ${f.bytes}`);
    }
    return manifest;
  } catch (err) {
    throw fromFsError(err, `reading the cold directory ${coldDir}`);
  }
}
