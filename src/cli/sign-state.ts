/**
 * `cstore sign-state show|export|import`: the sign guard's watermark (D8, docs/durability.md)
 * as an operator sees it and carries it between machines.
 *
 * - `show` and `export` read the directory read-only (no lock: a running node is fine): every
 *   sign-guard record of the log, folded by the guard's own rules (the highest (height, round,
 *   step) per key; an import clears a repair barrier; the restore fence is the highest fence),
 *   and the second copy in SIGNSTATE. An exported watermark is the higher of the log's and the
 *   copy's: the copy is never behind a released signature.
 * - `import` writes, so it opens the directory as the node does (`openStore`, taking its lock:
 *   LOCKED while the node runs) with `signer.importWatermark`, so that the log's record and the
 *   SIGNSTATE copy move together through the sign guard. The guard merges by maxima: a watermark
 *   at or below the directory's writes nothing, a higher one is recorded; a higher height with a
 *   lower round is refused (CONFLICT: rounds are global here).
 *
 * The interchange format (docs/operations.md, "Sign-state interchange"), modelled on EIP-3076:
 * integers as decimal strings, a metadata object naming the format, its version and the chain
 * id, and per key its watermark and, in the complete form, every signature the log holds.
 * CometBFT's `priv_validator_state.json` ({height, round, step, signature, signbytes}) is read
 * too.
 */
import { join } from 'node:path';
import { RecordKind } from '../codec/kinds.ts';
import { decodeRepairBarrier, decodeSignFence, decodeSignGuardRecord, stepCode } from '../codec/sign-guard-record.ts';
import { newestSignStateSlot } from '../codec/sign-state-slot.ts';
import { fromHex, toHex } from '../codec/node-key.ts';
import { publicKeyOf } from '../codec/vote-sign.ts';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { defaultFileSystem } from '../io/real-fs.ts';
import { errnoOf, type FileSystem } from '../io/types.ts';
import { SIGN_STEPS, type SignStep, type SignWatermark } from '../model/sign.ts';
import { openStore } from '../store.ts';
import { SIGN_STATE_FILE } from '../stores/sign-state-file.ts';
import { CliError, Exit } from './exit.ts';
import { openDir, requireDir, type ReadOnlyDir } from './read-only.ts';

/** The `interchange_format` of a cstore sign-state file. */
export const INTERCHANGE_FORMAT = 'cstore-sign-state';
export const INTERCHANGE_VERSION = '1';

/** One key's watermark as `show` reports it. */
export interface KeyWatermark {
  readonly publicKey: string;
  readonly height: number;
  readonly round: number;
  readonly step: SignStep;
  /** `signed`: the newest record is a signature; `imported`: an imported watermark. */
  readonly source: 'signed' | 'imported';
  readonly lsn: number;
}

/** What `sign-state show --json` prints (docs/operations.md). */
export interface SignStateReport {
  readonly seenLsn: number;
  /** Per key, from the log. */
  readonly keys: readonly KeyWatermark[];
  /** The SIGNSTATE copy, or null when the file is absent or both its slots are damaged. */
  readonly copy: { readonly publicKey: string; readonly height: number; readonly round: number; readonly step: SignStep; readonly sequence: number } | null;
  /** Height of the snapshot the directory was restored from, or null. */
  readonly fenceHeight: number | null;
  /** First LSN an explicit repair dropped while no watermark was imported since, or null. */
  readonly repairBarrierLsn: number | null;
}

interface Hrs {
  readonly height: number;
  readonly round: number;
  readonly step: number;
}

function compareHrs(a: Hrs, b: Hrs): number {
  return a.height - b.height || a.round - b.round || a.step - b.step;
}

/** One signature of the complete form. */
interface SignedEntry {
  readonly height: number;
  readonly round: number;
  readonly step: SignStep;
  readonly signBytes: Uint8Array;
  readonly signature: Uint8Array;
}

/** Folds the sign-guard records of the log as the guard does (see the file comment). */
async function foldLog(opened: ReadOnlyDir, wantSigned: string | undefined): Promise<{ report: SignStateReport; signed: SignedEntry[] }> {
  const states = new Map<string, KeyWatermark & { code: number }>();
  let fence: number | undefined;
  let barrier: number | undefined;
  const signed: SignedEntry[] = [];
  await opened.log.scan((record) => {
    switch (record.kind) {
      case RecordKind.SignGuardFence: {
        const f = decodeSignFence(record);
        // A backup's fences (pending, then a floor) are shown by the guard's own refusal; this
        // report keeps the snapshot fence's height.
        if (f.kind === 'snapshot') fence = fence === undefined ? f.height : Math.max(fence, f.height);
        return;
      }
      case RecordKind.SignGuardRepairBarrier: {
        const lost = decodeRepairBarrier(record).firstLostLsn;
        if (lost !== undefined) barrier = barrier === undefined ? lost : Math.min(barrier, lost);
        return;
      }
      case RecordKind.SignGuardEntry:
      case RecordKind.SignGuardImport: {
        const imported = record.kind === RecordKind.SignGuardImport;
        const r = decodeSignGuardRecord(record, imported);
        if (imported) barrier = undefined;
        const key = toHex(r.publicKey);
        if (!imported && key === wantSigned && r.signBytes !== null && r.signature !== null) {
          signed.push({ height: r.height, round: r.round, step: r.step, signBytes: r.signBytes, signature: r.signature });
        }
        const next = { publicKey: key, height: r.height, round: r.round, step: r.step, code: stepCode(r.step), source: imported ? ('imported' as const) : ('signed' as const), lsn: record.lsn };
        const current = states.get(key);
        const order = current === undefined ? 1 : compareHrs({ ...next, step: next.code }, { ...current, step: current.code });
        if (order > 0 || (order === 0 && !imported)) states.set(key, next);
        return;
      }
      default:
        return;
    }
  });
  const copy = await readCopy(opened.fs, opened.dir);
  const keys = [...states.values()].map(({ code: _code, ...k }) => k);
  return {
    report: { seenLsn: opened.log.seenLsn, keys, copy, fenceHeight: fence ?? null, repairBarrierLsn: barrier ?? null },
    signed,
  };
}

/** The sign state of an opened directory (for `inspect` too). */
export async function readSignState(opened: ReadOnlyDir): Promise<SignStateReport> {
  return (await foldLog(opened, undefined)).report;
}

async function readCopy(fs: FileSystem, dir: string): Promise<SignStateReport['copy']> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(join(dir, SIGN_STATE_FILE));
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    throw err;
  }
  const newest = newestSignStateSlot(bytes);
  if (newest === undefined) return null;
  const s = newest.slot;
  return { publicKey: toHex(s.publicKey), height: s.height, round: s.round, step: SIGN_STEPS[s.step - 1] as SignStep, sequence: s.sequence };
}

// ---- the key ----------------------------------------------------------------------------------

/**
 * Reads the validator's ed25519 private key from `path`: 64 hex characters (the 32-byte seed),
 * 32 raw bytes, or CometBFT's `priv_validator_key.json` (`priv_key.value`, base64 of the seed
 * and public key).
 * @throws INVALID_ARGUMENT when the file is none of these; NOT_FOUND when it is absent.
 */
export async function readSignerKey(fs: FileSystem, path: string): Promise<{ privateKey: Uint8Array; publicKey: Uint8Array }> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') throw new ConsensusStoreError('NOT_FOUND', `key file ${path} does not exist`);
    throw err;
  }
  const text = new TextDecoder().decode(bytes).trim();
  let privateKey: Uint8Array | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) privateKey = fromHex(text.toLowerCase());
  else if (text.startsWith('{')) {
    try {
      const o = JSON.parse(text) as { priv_key?: { value?: unknown } };
      const value = o.priv_key?.value;
      if (typeof value === 'string') {
        const raw = Buffer.from(value, 'base64');
        if (raw.length === 64 || raw.length === 32) privateKey = new Uint8Array(raw.subarray(0, 32));
      }
    } catch {
      // not JSON: refused below
    }
  } else if (bytes.length === 32) privateKey = bytes.slice();
  if (privateKey === undefined) {
    throw invalidArgument(`key file ${path}`, 'must hold the 32-byte ed25519 seed as 64 hex characters, 32 raw bytes, or a CometBFT priv_validator_key.json');
  }
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/** The public key named by `--public-key HEX` or `--key-file PATH`, if either is given. */
async function chosenKey(fs: FileSystem, publicKey: string | undefined, keyFile: string | undefined): Promise<string | undefined> {
  if (publicKey !== undefined && keyFile !== undefined) throw invalidArgument('--public-key', 'and --key-file name the key twice: give one');
  if (publicKey !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(publicKey)) throw invalidArgument('--public-key', 'must be 64 lowercase hex characters');
    return publicKey;
  }
  return keyFile === undefined ? undefined : toHex((await readSignerKey(fs, keyFile)).publicKey);
}

// ---- show -------------------------------------------------------------------------------------

/** `cstore sign-state show <dir>`. */
export async function runSignStateShow(
  dir: string,
  o: { json: boolean; publicKey?: string | undefined; keyFile?: string | undefined },
  print: (text: string) => Promise<void>,
): Promise<number> {
  const fs = defaultFileSystem();
  const key = await chosenKey(fs, o.publicKey, o.keyFile);
  const opened = await openDir(dir, fs);
  let report: SignStateReport;
  const firstLsn = opened.log.firstLsn;
  try {
    report = await readSignState(opened);
  } finally {
    await opened.log.close();
  }
  if (key !== undefined) report = { ...report, keys: report.keys.filter((k) => k.publicKey === key), copy: report.copy?.publicKey === key ? report.copy : null };
  if (o.json) {
    await print(JSON.stringify({ dir, ...report }, null, 2));
    return Exit.OK;
  }
  await print(`data directory: ${dir} (LSN ${report.seenLsn} seen)`);
  // A compacted directory (docs/operations.md, "Bounded history and the tools"): the records before the log's first LSN were released.
  if (firstLsn > 1) await print(`note: the log starts at LSN ${firstLsn} (older segments released after a compaction): signatures recorded before it are not listed; the SIGNSTATE copy holds the signing key's newest watermark`);
  if (report.keys.length === 0) await print('watermarks in the log: none');
  for (const k of report.keys) await print(`key ${k.publicKey}: height ${k.height}, round ${k.round}, step ${k.step} (${k.source}, LSN ${k.lsn})`);
  const c = report.copy;
  await print(c === null ? 'SIGNSTATE copy: none' : `SIGNSTATE copy: key ${c.publicKey}: height ${c.height}, round ${c.round}, step ${c.step} (sequence ${c.sequence})`);
  if (report.fenceHeight !== null) await print(`restore fence: restored from a snapshot at height ${report.fenceHeight}: the node signs nothing until a watermark at or above it is imported`);
  if (report.repairBarrierLsn !== null) await print(`repair barrier: an explicit repair dropped records from LSN ${report.repairBarrierLsn} on: import the last watermark this key signed`);
  return Exit.OK;
}

// ---- the interchange format -------------------------------------------------------------------

/** A cstore sign-state interchange document (docs/operations.md). */
export interface Interchange {
  readonly metadata: { readonly interchange_format: string; readonly interchange_format_version: string; readonly chain_id: string };
  readonly data: readonly {
    readonly pubkey: string;
    readonly watermark: { readonly height: string; readonly round: string; readonly step: SignStep };
    readonly signed?: readonly { readonly height: string; readonly round: string; readonly step: SignStep; readonly sign_bytes: string; readonly signature: string }[];
  }[];
}

/** `cstore sign-state export <dir>`: the interchange document on stdout or `--out`. */
export async function exportSignState(dir: string, o: { publicKey?: string | undefined; keyFile?: string | undefined; complete: boolean; chainId?: string | undefined }): Promise<Interchange> {
  const fs = defaultFileSystem();
  const key = await chosenKey(fs, o.publicKey, o.keyFile);
  const opened = await openDir(dir, fs);
  try {
    const chainId = opened.recordedChainId ?? o.chainId;
    if (chainId === undefined) throw invalidArgument('--chain-id', 'is needed: the directory records no chain id');
    if (o.chainId !== undefined && opened.recordedChainId !== undefined && o.chainId !== opened.recordedChainId) {
      throw new CliError('WRONG_CHAIN', `the directory belongs to chain '${opened.recordedChainId}', not '${o.chainId}'`, Exit.CHECK_FAILED);
    }
    const base = await foldLog(opened, undefined);
    const keys = new Map<string, Hrs>();
    for (const k of base.report.keys) keys.set(k.publicKey, { height: k.height, round: k.round, step: stepCode(k.step) });
    const copy = base.report.copy;
    if (copy !== null) {
      const c = { height: copy.height, round: copy.round, step: stepCode(copy.step) };
      const cur = keys.get(copy.publicKey);
      if (cur === undefined || compareHrs(c, cur) > 0) keys.set(copy.publicKey, c);
    }
    const data: Interchange['data'][number][] = [];
    for (const [pubkey, w] of [...keys].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (key !== undefined && pubkey !== key) continue;
      const watermark = { height: String(w.height), round: String(w.round), step: SIGN_STEPS[w.step - 1] as SignStep };
      if (!o.complete) {
        data.push({ pubkey, watermark });
        continue;
      }
      const { signed } = await foldLog(opened, pubkey);
      data.push({
        pubkey,
        watermark,
        signed: signed.map((s) => ({ height: String(s.height), round: String(s.round), step: s.step, sign_bytes: toHex(s.signBytes), signature: toHex(s.signature) })),
      });
    }
    if (key !== undefined && data.length === 0) throw new ConsensusStoreError('NOT_FOUND', `the directory holds no watermark for key ${key}`);
    return { metadata: { interchange_format: INTERCHANGE_FORMAT, interchange_format_version: INTERCHANGE_VERSION, chain_id: chainId }, data };
  } finally {
    await opened.log.close();
  }
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

function decimalField(name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'string' || !DECIMAL.test(value) || Number(value) > max) throw invalidArgument(name, 'must be a decimal integer as a string');
  return Number(value);
}

function stepField(name: string, value: unknown): SignStep {
  if (typeof value !== 'string' || !(SIGN_STEPS as readonly string[]).includes(value)) throw invalidArgument(name, `must be one of ${SIGN_STEPS.join(', ')}`);
  return value as SignStep;
}

/** A watermark read from an import file, for one key. */
export interface ParsedImport {
  readonly format: 'cstore' | 'cometbft';
  /** The chain id the file names (cstore format only). */
  readonly chainId: string | undefined;
  /** The highest watermark the file holds for the key, or undefined when it holds none. */
  readonly watermark: SignWatermark | undefined;
}

/**
 * Reads an import file: the cstore interchange (the highest of the key's watermark and its
 * signed entries; several entries for the key merge by maxima) or CometBFT's
 * priv_validator_state.json (step 1 propose, 2 prevote, 3 precommit; height 0 or step 0 is
 * "never signed").
 * @throws INVALID_ARGUMENT naming the first bad field.
 */
export function parseImport(text: string, publicKeyHex: string): ParsedImport {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalidArgument('the import file', 'is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalidArgument('the import file', 'must hold a JSON object');
  const o = doc as Record<string, unknown>;
  if ('metadata' in o) return parseCstore(o, publicKeyHex);
  if ('height' in o && 'step' in o) return parseCometBft(o);
  throw invalidArgument('the import file', `is neither a ${INTERCHANGE_FORMAT} document nor a CometBFT priv_validator_state.json`);
}

function parseCstore(o: Record<string, unknown>, publicKeyHex: string): ParsedImport {
  const m = o['metadata'] as Record<string, unknown> | null;
  if (typeof m !== 'object' || m === null) throw invalidArgument('metadata', 'must be an object');
  if (m['interchange_format'] !== INTERCHANGE_FORMAT) throw invalidArgument('metadata.interchange_format', `must be '${INTERCHANGE_FORMAT}'`);
  if (m['interchange_format_version'] !== INTERCHANGE_VERSION) {
    throw new ConsensusStoreError('UNSUPPORTED_FORMAT', `interchange_format_version ${JSON.stringify(m['interchange_format_version'])} (this build reads '${INTERCHANGE_VERSION}')`);
  }
  const chainId = m['chain_id'];
  if (typeof chainId !== 'string' || chainId.length === 0) throw invalidArgument('metadata.chain_id', 'must be a non-empty string');
  const data = o['data'];
  if (!Array.isArray(data)) throw invalidArgument('data', 'must be an array');
  let best: Hrs | undefined;
  const consider = (h: Hrs): void => {
    if (best === undefined || compareHrs(h, best) > 0) best = h;
  };
  data.forEach((entry: unknown, i) => {
    const e = entry as Record<string, unknown>;
    if (typeof e !== 'object' || e === null) throw invalidArgument(`data[${i}]`, 'must be an object');
    const pubkey = e['pubkey'];
    if (typeof pubkey !== 'string' || !/^[0-9a-f]{64}$/.test(pubkey)) throw invalidArgument(`data[${i}].pubkey`, 'must be 64 lowercase hex characters');
    const w = e['watermark'] as Record<string, unknown> | undefined;
    if (typeof w !== 'object' || w === null) throw invalidArgument(`data[${i}].watermark`, 'must be an object');
    const wm = { height: decimalField(`data[${i}].watermark.height`, w['height']), round: decimalField(`data[${i}].watermark.round`, w['round'], 0xffffffff), step: stepCode(stepField(`data[${i}].watermark.step`, w['step'])) };
    const signed = e['signed'];
    if (signed !== undefined && !Array.isArray(signed)) throw invalidArgument(`data[${i}].signed`, 'must be an array');
    const entries = ((signed as unknown[] | undefined) ?? []).map((s: unknown, j) => {
      const x = s as Record<string, unknown>;
      if (typeof x !== 'object' || x === null) throw invalidArgument(`data[${i}].signed[${j}]`, 'must be an object');
      return { height: decimalField(`data[${i}].signed[${j}].height`, x['height']), round: decimalField(`data[${i}].signed[${j}].round`, x['round'], 0xffffffff), step: stepCode(stepField(`data[${i}].signed[${j}].step`, x['step'])) };
    });
    if (pubkey !== publicKeyHex) return;
    consider(wm);
    for (const s of entries) consider(s);
  });
  const b = best as Hrs | undefined;
  return { format: 'cstore', chainId, watermark: b === undefined ? undefined : { height: b.height, round: b.round, step: SIGN_STEPS[b.step - 1] as SignStep } };
}

function parseCometBft(o: Record<string, unknown>): ParsedImport {
  const height = decimalField('height', typeof o['height'] === 'number' ? String(o['height']) : o['height']);
  const roundRaw = o['round'];
  const round = decimalField('round', typeof roundRaw === 'number' ? String(roundRaw) : roundRaw, 0xffffffff);
  const step = o['step'];
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step > 3) throw invalidArgument('step', 'must be 0 (none), 1 (propose), 2 (prevote) or 3 (precommit)');
  if (height === 0 || step === 0) return { format: 'cometbft', chainId: undefined, watermark: undefined };
  return { format: 'cometbft', chainId: undefined, watermark: { height, round, step: SIGN_STEPS[step - 1] as SignStep } };
}

// ---- import -----------------------------------------------------------------------------------

/** What `sign-state import --json` prints (docs/operations.md). */
export interface ImportReport {
  readonly dir: string;
  readonly publicKey: string;
  readonly format: 'cstore' | 'cometbft';
  readonly imported: SignWatermark | null;
  readonly before: SignWatermark | null;
  readonly after: SignWatermark | null;
  /** `raised`: the watermark moved up; `unchanged`: the directory's was at or above it (nothing written); `nothing`: the file holds no watermark for the key. */
  readonly action: 'raised' | 'unchanged' | 'nothing';
}

/**
 * `cstore sign-state import <dir> <file> --key-file PATH`: see the file comment.
 * @throws LOCKED (the node runs), NOT_FOUND, INVALID_ARGUMENT (bad file), WRONG_CHAIN, CONFLICT
 *   and FRESH_SIGN_STATE (the guard refused), and the store's open errors.
 */
export async function importSignState(
  dir: string,
  file: string,
  o: { keyFile: string; validatorId?: string | undefined; chainId?: string | undefined; create: boolean },
): Promise<ImportReport> {
  const fs = defaultFileSystem();
  const key = await readSignerKey(fs, o.keyFile);
  const publicKey = toHex(key.publicKey);
  let text: string;
  try {
    text = new TextDecoder().decode(await fs.readFile(file));
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') throw new ConsensusStoreError('NOT_FOUND', `import file ${file} does not exist`);
    throw err;
  }
  const parsed = parseImport(text, publicKey);
  // The directory's chain id, read-only, before anything is opened for writing.
  let recorded: string | undefined;
  let exists = true;
  let before: SignWatermark | null = null;
  let fence: number | null = null;
  let copy: SignWatermark | null = null;
  try {
    await requireDir(fs, dir);
    const opened = await openDir(dir, fs);
    try {
      recorded = opened.recordedChainId;
      const state = await readSignState(opened);
      const k = state.keys.find((x) => x.publicKey === publicKey);
      if (k !== undefined) before = { height: k.height, round: k.round, step: k.step };
      fence = state.fenceHeight;
      if (state.copy !== null && state.copy.publicKey === publicKey) copy = { height: state.copy.height, round: state.copy.round, step: state.copy.step };
    } finally {
      await opened.log.close();
    }
  } catch (err) {
    if (!(err instanceof ConsensusStoreError && err.code === 'NOT_FOUND' && o.create)) throw err;
    exists = false;
  }
  const chainId = recorded ?? o.chainId ?? parsed.chainId;
  if (chainId === undefined) throw invalidArgument('--chain-id', 'is needed: neither the directory nor the file names the chain');
  for (const [what, other] of [['--chain-id', o.chainId], ['the import file', parsed.chainId]] as const) {
    if (other !== undefined && other !== chainId) {
      throw new CliError('WRONG_CHAIN', `${what} names chain '${other}', but ${exists && recorded !== undefined ? 'the directory belongs to' : 'the import is for'} chain '${chainId}'`, Exit.REFUSED);
    }
  }
  if (parsed.watermark === undefined) {
    return { dir, publicKey, format: parsed.format, imported: null, before: null, after: null, action: 'nothing' };
  }
  // The open's own checks would refuse these after recording the import: refused first, so a
  // refused import writes nothing.
  const wanted = parsed.watermark;
  const highest = before !== null && compareHrs(hrsOf(before), hrsOf(wanted)) > 0 ? before : wanted;
  if (fence !== null && highest.height < fence) {
    throw new ConsensusStoreError('FRESH_SIGN_STATE', `this directory was restored from a snapshot at height ${fence}: import a watermark at or above it (the last height this key signed anywhere, if higher); ${hrsText(wanted)} is below it`, { details: { fenceHeight: fence } });
  }
  if (copy !== null && compareHrs(hrsOf(copy), hrsOf(highest)) > 0) {
    throw new ConsensusStoreError('FRESH_SIGN_STATE', `the SIGNSTATE copy records ${hrsText(copy)}, above ${hrsText(highest)}: the log lost its newest sign record; import at least the copy's watermark`, { details: { copy } });
  }
  if (!exists && !o.create) throw new ConsensusStoreError('NOT_FOUND', `${dir} does not exist (pass --create to make a new data directory holding only this watermark)`);
  const store = await openStore({
    dir,
    chainId,
    signer: {
      privateKey: key.privateKey,
      validatorId: o.validatorId ?? 'cstore-import',
      // The import is the only write: recorded before the open's sign-state checks run.
      importWatermark: parsed.watermark,
    },
    images: { onClose: false, everyRecords: 0 },
    snapshots: { interval: 0 },
  });
  try {
    const after = store.signGuard.watermark() ?? null;
    const raised = after !== null && (before === null || compareHrs(hrsOf(after), hrsOf(before)) > 0);
    return { dir, publicKey, format: parsed.format, imported: parsed.watermark, before, after, action: raised ? 'raised' : 'unchanged' };
  } finally {
    await store.close();
  }
}

function hrsText(w: SignWatermark): string {
  return `height ${w.height}, round ${w.round}, step ${w.step}`;
}

function hrsOf(w: SignWatermark): Hrs {
  return { height: w.height, round: w.round, step: stepCode(w.step) };
}
