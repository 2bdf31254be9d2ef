/**
 * `cstore inspect <dir>` and `cstore verify <dir>`: what an operator asks of a node's data
 * directory, stopped or running. Both open it read-only (`read-only.ts`: no lock, nothing
 * written, not even a torn tail cut), so they work on a live node, on a read-only copy, and
 * leave every byte as it was. They report the LSN they saw: a live node may have written more
 * since.
 *
 * They must never write to the directory, never create one, and never print a figure they did
 * not read from it.
 */
import { RecordKind } from '../codec/kinds.ts';
import { splitEntryPayload } from '../codec/audit-record.ts';
import { fromHex } from '../codec/bytes.ts';
import { ConsensusStoreError, invalidArgument, isStoreError } from '../errors.ts';
import { AuditChainVerifier, feedAuditRecord } from '../stores/audit-verify.ts';
import type { LogRecord } from '../log/types.ts';
import { Exit } from './exit.ts';
import { Progress } from './output.ts';
import { scanAcross } from '../backup/tiers.ts';
import { nodePublicKey, openDir, openStores, sideFiles, storesOf, type ImageKeySource, type ReadOnlyDir } from './read-only.ts';
import { readSignState, type SignStateReport } from './sign-state.ts';

const AUDIT_KINDS = [RecordKind.AuditEvent, RecordKind.AuditHead];
const KIND_NAMES = new Map<number, string>(Object.entries(RecordKind).map(([name, kind]) => [kind, name]));

/** How a command reports: text lines, or one JSON document. */
export interface Report {
  readonly json: boolean;
  readonly print: (text: string) => Promise<void> | void;
  /** Progress on stderr (a terminal only). */
  readonly progress?: boolean;
}

async function emit(report: Report, value: unknown, lines: () => string[]): Promise<void> {
  if (report.json) await report.print(JSON.stringify(value, null, 2));
  else for (const l of lines()) await report.print(l);
}

/** The JSON document of `cstore inspect --json` (docs/operations.md). */
export interface InspectReport {
  readonly dir: string;
  readonly chainId: string | null;
  readonly seenLsn: number;
  readonly firstLsn: number;
  readonly writerActive: boolean;
  readonly log: {
    readonly segments: number;
    readonly records: number;
    readonly batches: number;
    readonly unreadTailBytes: number;
    readonly manifestGeneration: number;
    readonly pendingRepairs: number;
  };
  readonly recordsByKind: Record<string, number>;
  readonly roundState: { readonly height: number; readonly round: number; readonly phase: string; readonly lsn: number } | null;
  readonly finalized: { readonly height: number; readonly round: number } | null;
  readonly earliestOpenRound: number | null;
  readonly signState: SignStateReport;
  readonly images: { readonly count: number; readonly newestLsn: number | null };
  readonly snapshots: { readonly count: number; readonly newestHeight: number | null; readonly newestId: string | null };
  /** The cold tier (docs/operations.md, "Bounded history and the tools"); null when the directory was never compacted. */
  readonly cold: ColdSummary | null;
  /** The local image the view loaded (a tiered directory), and which key checked it. */
  readonly imageLoaded: { readonly file: string | null; readonly lsn: number | null; readonly keySource: ImageKeySource };
}

/** What inspect shows of the cold tier. */
export interface ColdSummary {
  readonly generation: number;
  readonly cut: { readonly height: number; readonly lsn: number };
  readonly files: number;
  readonly bytes: number;
  readonly records: number;
  readonly recordsByKind: Record<string, number>;
  readonly fileNames: readonly string[];
}

/** The cold tier of an opened directory, from its manifest (no cold file is read). */
export function coldSummary(opened: ReadOnlyDir): ColdSummary | null {
  const m = opened.coldManifest;
  if (m === undefined) return null;
  const byKind = new Map<number, number>();
  for (const f of m.files) for (const k of f.kinds) byKind.set(k.kind, (byKind.get(k.kind) ?? 0) + k.count);
  return {
    generation: m.generation,
    cut: { height: m.cut.height, lsn: m.cut.lsn },
    files: m.files.length,
    bytes: m.files.reduce((n, f) => n + f.bytes, 0),
    records: m.files.reduce((n, f) => n + f.records, 0),
    recordsByKind: Object.fromEntries([...byKind].sort((a, b) => a[0] - b[0]).map(([k, n]) => [KIND_NAMES.get(k) ?? `kind${k}`, n])),
    fileNames: m.files.map((f) => f.name),
  };
}

/** Builds the inspect report of an opened directory (closes nothing). */
async function inspectOpened(opened: ReadOnlyDir): Promise<InspectReport> {
  const { log } = opened;
  const byKind = new Map<number, number>();
  await log.scan((record) => {
    byKind.set(record.kind, (byKind.get(record.kind) ?? 0) + 1);
  });
  const signState = await readSignState(opened);
  const side = await sideFiles(opened);
  const { store, imageKeySource } = await openStores(opened);
  const last = await store.rounds.loadRoundState();
  const finalized = await store.votes.getLastFinalized();
  const earliest = await store.votes.getEarliestOpenRound();
  const report = log.openReport;
  return {
    dir: opened.dir,
    chainId: opened.recordedChainId ?? null,
    seenLsn: log.seenLsn,
    firstLsn: log.firstLsn,
    writerActive: log.tail?.writerActive ?? false,
    log: {
      segments: report.segmentsScanned,
      records: report.recordsScanned,
      batches: report.batchesScanned,
      unreadTailBytes: log.tail?.unreadBytes ?? 0,
      manifestGeneration: log.manifestGeneration,
      pendingRepairs: report.pendingRepairs.length,
    },
    recordsByKind: Object.fromEntries([...byKind].sort((a, b) => a[0] - b[0]).map(([k, n]) => [KIND_NAMES.get(k) ?? `kind${k}`, n])),
    roundState: last === undefined ? null : { height: last.state.height, round: last.state.round, phase: last.state.phase, lsn: last.id },
    finalized: finalized === undefined ? null : { height: finalized.height, round: finalized.round },
    earliestOpenRound: earliest ?? null,
    signState,
    images: side.images,
    snapshots: side.snapshots,
    cold: coldSummary(opened),
    imageLoaded: { file: store.replay.image.loaded?.file ?? null, lsn: store.replay.image.loaded?.lsn ?? null, keySource: imageKeySource },
  };
}

/** `cstore inspect`: prints the summary; resolves with the exit code. */
export async function runInspect(dir: string, out: Report): Promise<number> {
  const opened = await openDir(dir);
  let r: InspectReport;
  try {
    r = await inspectOpened(opened);
  } finally {
    await opened.log.close();
  }
  await emit(out, r, () => {
    const lines = [
      `data directory: ${r.dir}`,
      `chain: ${r.chainId ?? 'not recorded'}`,
      `log: ${r.log.segments} segment(s), ${r.log.records} records in ${r.log.batches} batches, LSNs ${r.firstLsn}..${r.seenLsn} seen${r.writerActive ? ' (a writer is appending: later records may exist)' : ''}`,
    ];
    if (r.log.unreadTailBytes > 0) lines.push(`tail: ${r.log.unreadTailBytes} bytes after the last committed batch not read (a batch in flight, or a torn tail the node's next open cuts)`);
    if (r.log.pendingRepairs > 0) lines.push(`pending repairs: ${r.log.pendingRepairs} (recorded by the node's next open)`);
    for (const [kind, count] of Object.entries(r.recordsByKind)) lines.push(`  ${kind.padEnd(22)} ${count}`);
    lines.push(r.roundState === null ? 'round state: none' : `round state: height ${r.roundState.height}, round ${r.roundState.round}, phase ${r.roundState.phase} (LSN ${r.roundState.lsn})`);
    lines.push(r.finalized === null ? 'finalized: none' : `finalized: height ${r.finalized.height}, round ${r.finalized.round}`);
    lines.push(`earliest open round: ${r.earliestOpenRound ?? 'none'}`);
    const keys = r.signState.keys;
    lines.push(keys.length === 0 ? 'sign watermarks: none' : `sign watermarks: ${keys.map((k) => `${k.publicKey.slice(0, 12)}.. height ${k.height}, round ${k.round}, step ${k.step}`).join('; ')}`);
    if (r.signState.fenceHeight !== null) lines.push(`restore fence: restored from a snapshot at height ${r.signState.fenceHeight}`);
    lines.push(`images: ${r.images.count}${r.images.newestLsn === null ? '' : `, newest at LSN ${r.images.newestLsn}`}`);
    lines.push(`snapshots: ${r.snapshots.count}${r.snapshots.newestHeight === null ? '' : `, newest at height ${r.snapshots.newestHeight}`}`);
    if (r.imageLoaded.file !== null) lines.push(`state read from image ${r.imageLoaded.file} (LSN ${r.imageLoaded.lsn}, checked with the key from ${r.imageLoaded.keySource}), then the log after it`);
    if (r.cold === null) lines.push('cold tier: none (never compacted)');
    else {
      const c = r.cold;
      lines.push(`cold tier: ${c.files} file(s), ${c.bytes} bytes, ${c.records} records, cut at height ${c.cut.height} / LSN ${c.cut.lsn} (manifest generation ${c.generation}); the hot log starts at LSN ${r.firstLsn}`);
      for (const [kind, count] of Object.entries(c.recordsByKind)) lines.push(`  cold ${kind.padEnd(17)} ${count}`);
    }
    return lines;
  });
  return Exit.OK;
}

/** The JSON document of `cstore verify --json` (docs/operations.md). */
export interface VerifyReport {
  readonly dir: string;
  readonly ok: boolean;
  readonly exitCode: number;
  readonly chainId: string | null;
  readonly chainIdCheck: { readonly expected: string; readonly recorded: string | null; readonly ok: boolean } | null;
  readonly seenLsn: number;
  readonly writerActive: boolean;
  readonly records: number;
  readonly rereadByLsn: number;
  readonly recovery: { readonly ok: boolean; readonly checked: number; readonly problems: readonly string[] } | null;
  readonly audit:
    | { readonly checked: true; readonly ok: boolean; readonly entries: number; readonly heads: number; readonly keySource: 'node.key' | 'chain' | 'option'; readonly firstBad: { readonly lsn: number; readonly reason: string } | null }
    | { readonly checked: false; readonly reason: string };
  readonly corruption: { readonly file: string | null; readonly offset: number | null; readonly message: string } | null;
  /** The cold tier's files, every block and whole-file checksum re-read; null when the directory has no cold tier (or damage was found first). */
  readonly cold: { readonly files: number; readonly blocks: number; readonly records: number; readonly bytes: number; readonly cut: { readonly height: number; readonly lsn: number } } | null;
}

/**
 * `cstore verify`: every record's checksum (scan) and LSN (re-read by LSN), the recovery
 * integrity check, the audit chain (hashes, links and head signatures with the node's key from
 * node.key, else the key the chain recorded), and, given `--chain-id`, the recorded chain id.
 * Exit 0 clean, 1 a failed check (the chain id), 2 damage (CORRUPTION, a broken chain or a
 * failed recovery check).
 */
export async function runVerify(dir: string, chainId: string | undefined, out: Report, publicKey?: string): Promise<number> {
  const key = publicKey === undefined ? undefined : parsePublicKey(publicKey);
  const progress = new Progress(out.progress ?? true);
  const result = await verifyDir(dir, chainId, progress, key).finally(() => progress.done());
  await emit(out, result, () => {
    const lines: string[] = [];
    if (result.chainIdCheck !== null) {
      const c = result.chainIdCheck;
      lines.push(c.ok ? `chain id: ok (${c.expected})` : `chain id: MISMATCH: the directory records '${c.recorded ?? 'none'}', expected '${c.expected}'`);
      if (!c.ok) return lines;
    }
    if (result.corruption !== null) {
      lines.push(`CORRUPTION: ${result.corruption.message}`);
      return lines;
    }
    lines.push(`records scanned: ${result.records}, re-read by LSN: ${result.rereadByLsn} (LSN ${result.seenLsn} seen${result.writerActive ? ', a writer is appending' : ''})`);
    if (result.cold !== null) {
      const c = result.cold;
      lines.push(`cold tier: ok (${c.files} file(s), ${c.blocks} blocks, ${c.records} records, ${c.bytes} bytes; cut at height ${c.cut.height} / LSN ${c.cut.lsn})`);
    }
    if (result.recovery !== null) {
      lines.push(`recovery integrity: ${result.recovery.ok ? 'ok' : 'FAILED'} (${result.recovery.checked} checked)`);
      for (const problem of result.recovery.problems) lines.push(`  ${problem}`);
    }
    const a = result.audit;
    if (!a.checked) lines.push(`audit chain: not checked (${a.reason})`);
    else {
      lines.push(`audit chain: ${a.ok ? 'ok' : 'FAILED'} (${a.entries} entries, ${a.heads} signed heads, key from ${a.keySource})`);
      if (a.firstBad !== null) lines.push(`  first bad entry: LSN ${a.firstBad.lsn}: ${a.firstBad.reason}`);
    }
    return lines;
  });
  return result.exitCode;
}

async function verifyDir(dir: string, chainId: string | undefined, progress: Progress, publicKey?: Uint8Array): Promise<VerifyReport> {
  const base = { dir, seenLsn: 0, writerActive: false, records: 0, rereadByLsn: 0, recovery: null, cold: null, audit: { checked: false as const, reason: 'damage found first' } };
  const damaged = (err: unknown, extra: Partial<VerifyReport> = {}): VerifyReport => {
    const location = isStoreError(err) ? err.location : undefined;
    return {
      ...base,
      chainId: null,
      chainIdCheck: null,
      ...extra,
      ok: false,
      exitCode: Exit.DAMAGE,
      corruption: { file: location?.file ?? null, offset: location?.offset ?? null, message: (err as Error).message },
    };
  };
  let opened: ReadOnlyDir;
  try {
    opened = await openDir(dir);
  } catch (err) {
    if (isStoreError(err, 'CORRUPTION')) return damaged(err);
    throw err;
  }
  const { log } = opened;
  const recorded = opened.recordedChainId;
  // A directory that records no chain id (built on a bare log) cannot disagree: its audit chain is checked with the given one.
  const chainIdCheck = chainId === undefined ? null : { expected: chainId, recorded: recorded ?? null, ok: recorded === undefined || recorded === chainId };
  const common = { dir, chainId: recorded ?? null, chainIdCheck, seenLsn: log.seenLsn, writerActive: log.tail?.writerActive ?? false };
  try {
    if (chainIdCheck !== null && !chainIdCheck.ok) {
      // Nothing else is checked against the wrong chain: every audit hash is bound to the chain id.
      return { ...common, ...base, ...{ seenLsn: log.seenLsn }, audit: { checked: false, reason: 'the chain id does not match' }, ok: false, exitCode: Exit.CHECK_FAILED, corruption: null };
    }
    const total = log.openReport.recordsScanned;
    let records = 0;
    // A repair's gap (docs/format.md, "Filler"): its LSNs hold filler, which no read returns.
    const gaps: { first: number; last: number }[] = [];
    let expected = log.firstLsn;
    await log.scan((record) => {
      if (record.lsn > expected) gaps.push({ first: expected, last: record.lsn - 1 });
      expected = record.lsn + 1;
      records++;
      if ((records & 0xfff) === 0) progress.update('verify: records checked', records, total * 2);
    });
    let reread = 0;
    let gap = 0;
    for (let lsn = log.firstLsn; lsn <= log.seenLsn; lsn++) {
      while (gaps[gap] !== undefined && gaps[gap]!.last < lsn) gap++;
      if (gaps[gap] !== undefined && gaps[gap]!.first <= lsn) continue;
      if ((await log.get(lsn as never)) === undefined) throw new ConsensusStoreError('CORRUPTION', `LSN ${lsn} is missing from the index`);
      reread++;
      if ((reread & 0xfff) === 0) progress.update('verify: records checked', records + reread, total * 2);
    }
    // The cold tier: every block's and every file's checksum (CORRUPTION names the file and offset).
    let cold: VerifyReport['cold'] = null;
    if (opened.coldTier !== undefined) {
      progress.update('verify: cold files', records + reread, total * 2);
      const files = await opened.coldTier.verify();
      const cut = opened.coldTier.cut;
      cold = { files: files.length, blocks: files.reduce((n, f) => n + f.blocks, 0), records: files.reduce((n, f) => n + f.records, 0), bytes: files.reduce((n, f) => n + f.bytes, 0), cut: { height: cut.height, lsn: cut.lsn } };
    }
    const effective = recorded ?? chainId;
    const audit = effective === undefined ? ({ checked: false, reason: 'the directory records no chain id: give --chain-id, every entry hash is bound to it' } as const) : await verifyAudit(opened, effective, publicKey);
    progress.update('verify: recovery check', records + reread, total * 2);
    const store = await storesOf(opened, chainId);
    const recovered = await store.recovery.recover();
    const recovery = { ok: recovered.integrity.ok, checked: recovered.integrity.checked, problems: recovered.integrity.problems.map(String) };
    const ok = recovery.ok && (!audit.checked || audit.ok);
    return { ...common, records, rereadByLsn: reread, recovery, audit, ok, exitCode: ok ? Exit.OK : Exit.DAMAGE, corruption: null, cold };
  } catch (err) {
    if (isStoreError(err, 'CORRUPTION')) return damaged(err, common);
    throw err;
  } finally {
    await log.close();
  }
}

/** Walks the audit chain of the read-only log with the node's key. */
async function verifyAudit(opened: ReadOnlyDir, chainId: string, given?: Uint8Array): Promise<VerifyReport['audit']> {
  let key = given ?? (await nodePublicKey(opened));
  let keySource: 'node.key' | 'chain' | 'option' = given === undefined ? 'node.key' : 'option';
  if (key === undefined) {
    key = await recordedNodeKey(opened);
    keySource = 'chain';
  }
  if (key === undefined) return { checked: false, reason: 'no node.key in the directory and no node key recorded in the audit chain' };
  const verifier = new AuditChainVerifier(chainId, key);
  // Across both tiers: the chain's older entries and heads live in the cold tier (docs/audit.md).
  await scanAcross(opened, AUDIT_KINDS, AUDIT_KINDS, () => undefined, (record) => feedAuditRecord(verifier, record as LogRecord));
  const report = verifier.finish();
  return {
    checked: true,
    ok: report.ok,
    entries: report.checked,
    heads: report.heads,
    keySource,
    firstBad: report.firstBad === undefined ? null : { lsn: report.firstBad.id, reason: report.firstBad.reason },
  };
}

/** `--public-key HEX`: a 32-byte ed25519 public key. @throws ConsensusStoreError INVALID_ARGUMENT. */
function parsePublicKey(text: string): Uint8Array {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? fromHex(text.toLowerCase()) : undefined;
  if (key === undefined) throw invalidArgument('--public-key', 'must be 64 hex digits (an ed25519 public key)');
  return key;
}

/** The node key the audit chain recorded in its NodeKeyRecorded entry, if any. */
async function recordedNodeKey(opened: ReadOnlyDir): Promise<Uint8Array | undefined> {
  const { decodeEntryBody } = await import('../codec/audit-record.ts');
  let key: Uint8Array | undefined;
  await scanAcross(opened, AUDIT_KINDS, AUDIT_KINDS, () => undefined, (record) => {
    if (record.kind !== RecordKind.AuditEvent) return true;
    try {
      const event = decodeEntryBody(splitEntryPayload(record.payload).body).event;
      if (event.type === 'NodeKeyRecorded') {
        key = event.publicKey;
        return false;
      }
    } catch {
      // damaged entries are verify's business
    }
    return true;
  });
  return key;
}
