/**
 * `cstore export audit|evidence|rewards|votes <dir>`: the records of one store as JSON Lines
 * (one JSON object a line, in log order) on stdout or into `--out FILE` (written as a temp file
 * and renamed: whole or absent), read from a read-only open of the directory (no lock; a live
 * node's directory is fine: the export holds the records up to the LSN it saw, printed on
 * stderr with `--out`). Rewards also as CSV, one row per reward line, with every text cell that
 * a spreadsheet would run as a formula neutralised (OWASP's "CSV injection" rule: a cell
 * starting with = + - @ tab or CR gets a leading apostrophe).
 *
 * Filters: `--from-height`/`--to-height` (inclusive) and `--since`/`--until` (ISO 8601 date or
 * milliseconds since the epoch, inclusive) on the time the record carries (a vote's timestamp,
 * evidence's detectedAt, a distribution's block time, an audit entry's timestamp).
 *
 * Field names are stable (docs/operations.md): byte strings as lowercase hex, token amounts
 * (bigint) as decimal strings, heights, rounds, LSNs and times as JSON numbers (all below 2^53).
 *
 * The log is scanned in slices of about 256 KiB of output, each written (waiting for the pipe
 * to drain) before the next slice is read, so memory stays bounded.
 */
import { decodeEntryBody, splitEntryPayload } from '../codec/audit-record.ts';
import { heightOfEvent, validatorOfEvent } from '../codec/audit-event.ts';
import { toHex } from '../codec/bytes.ts';
import { decodeEvidenceRecord } from '../codec/evidence-record.ts';
import { RecordKind } from '../codec/kinds.ts';
import { decodeDistributionRecord } from '../codec/reward-record.ts';
import { decodeVoteRecord } from '../codec/vote-record.ts';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { LogRecord } from '../log/types.ts';
import { exportAuditRecords } from '../stores/audit-export.ts';
import { Exit, UsageError } from './exit.ts';
import { fileSink, Progress, stdoutSink, type Sink } from './output.ts';
import { coldRecordsInOrder, scanAcross } from '../backup/tiers.ts';
import { nodePublicKey, openDir, storesOf, type ReadOnlyDir } from './read-only.ts';
import { EVIDENCE_TYPES, type EvidenceType } from '../model/evidence.ts';
import { MAX_EVIDENCE_QUERY_LIMIT, type StoredEvidence } from '../stores/evidence-types.ts';

export const EXPORT_KINDS = ['audit', 'evidence', 'rewards', 'votes'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

/** Options of an export. */
export interface ExportOptions {
  readonly out?: string | undefined;
  /** `jsonl` (default); `csv` for rewards; `signed` for audit (the verifiable export of docs/audit.md, needs --out). */
  readonly format?: string | undefined;
  readonly fromHeight?: number | undefined;
  readonly toHeight?: number | undefined;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly progress?: boolean;
}

/** What an export wrote (printed on stderr with --out). */
export interface ExportSummary {
  readonly kind: ExportKind;
  readonly lines: number;
  readonly seenLsn: number;
}

/** A time bound: ISO 8601 or ms since the epoch. */
export function parseTime(name: string, value: string): number {
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw invalidArgument(name, `must be an ISO 8601 date or milliseconds since the epoch, got '${value}'`);
  return t;
}

function heightBound(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) throw invalidArgument(name, 'must be a non-negative integer');
  return value;
}

/** Neutralises a CSV cell a spreadsheet would evaluate, and quotes it when needed (RFC 4180). */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** JSON with byte strings as hex and bigints as decimal strings. */
function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : typeof v === 'bigint' ? v.toString() : v));
}

interface Filter {
  readonly fromHeight: number | undefined;
  readonly toHeight: number | undefined;
  readonly since: number | undefined;
  readonly until: number | undefined;
}

function passes(f: Filter, height: number | undefined, time: number | undefined): boolean {
  if (f.fromHeight !== undefined && (height === undefined || height < f.fromHeight)) return false;
  if (f.toHeight !== undefined && (height === undefined || height > f.toHeight)) return false;
  if (f.since !== undefined && (time === undefined || time < f.since)) return false;
  if (f.until !== undefined && (time === undefined || time > f.until)) return false;
  return true;
}

/** The lines of one record for `kind` (none when the record is of another kind or filtered out). */
function linesOf(kind: ExportKind, csv: boolean, record: LogRecord, f: Filter): string[] {
  switch (kind) {
    case 'votes': {
      if (record.kind !== RecordKind.Vote) return [];
      const { vote, recordedAt } = decodeVoteRecord(record);
      if (!passes(f, vote.height, vote.timestamp)) return [];
      return [jsonLine({ lsn: record.lsn, validatorId: vote.validatorId, height: vote.height, round: vote.round, voteType: vote.voteType, blockHash: vote.blockHash, timestamp: vote.timestamp, signature: vote.signature, recordedAt })];
    }
    case 'evidence': {
      if (record.kind !== RecordKind.Evidence) return [];
      const r = decodeEvidenceRecord(record.payload, record.lsn);
      const e = r.evidence;
      if (!passes(f, e.height, e.detectedAt)) return [];
      return [jsonLine({ lsn: record.lsn, id: r.id, type: e.type, validatorId: e.validatorId, height: e.height, detectedAt: e.detectedAt, submittedBy: e.submittedBy, verifiedByQuorum: e.verifiedByQuorum, status: r.status, failure: r.failure ?? null, recordedAt: r.recordedAt, details: e.details })];
    }
    case 'rewards': {
      if (record.kind !== RecordKind.RewardDistribution) return [];
      const { distribution: d, recordedAt } = decodeDistributionRecord(record.payload, record.lsn);
      if (!passes(f, d.height, d.timestamp)) return [];
      if (csv) {
        const time = new Date(d.timestamp).toISOString();
        return d.lines.map((l) => [String(d.height), String(d.timestamp), time, csvCell(l.validatorId), csvCell(l.reason), l.amount.toString(), String(record.lsn)].join(','));
      }
      return [jsonLine({ lsn: record.lsn, height: d.height, round: d.round ?? null, timestamp: d.timestamp, treasuryBefore: d.treasuryBefore, treasuryAfter: d.treasuryAfter, totalDistributed: d.totalDistributed, lines: d.lines, recordedAt })];
    }
    case 'audit': {
      if (record.kind !== RecordKind.AuditEvent) return [];
      const { hash, body } = splitEntryPayload(record.payload);
      const entry = decodeEntryBody(body);
      const height = heightOfEvent(entry.event);
      if (!passes(f, height, entry.timestamp)) return [];
      return [jsonLine({ lsn: record.lsn, sequence: entry.sequence, timestamp: entry.timestamp, type: entry.event.type, height: height ?? null, validatorId: validatorOfEvent(entry.event) ?? null, event: entry.event, prevHash: entry.prevHash, hash })];
    }
  }
}

/** The CSV header of `export rewards --format csv`. */
export const REWARDS_CSV_HEADER = 'height,timestamp,time,validator_id,reason,amount,lsn';

/** Runs `cstore export <kind> <dir>`; resolves with the exit code. */
export async function runExport(kind: string, dir: string, o: ExportOptions, note: (text: string) => void): Promise<number> {
  if (!(EXPORT_KINDS as readonly string[]).includes(kind)) throw new UsageError(`export what? one of ${EXPORT_KINDS.join(', ')}, got '${kind}'`);
  const k = kind as ExportKind;
  const format = o.format ?? 'jsonl';
  const allowed = k === 'rewards' ? ['jsonl', 'csv'] : k === 'audit' ? ['jsonl', 'signed'] : ['jsonl'];
  if (!allowed.includes(format)) throw new UsageError(`--format of export ${k} is one of ${allowed.join(', ')}, got '${format}'`);
  const filter: Filter = {
    fromHeight: heightBound('--from-height', o.fromHeight),
    toHeight: heightBound('--to-height', o.toHeight),
    since: o.since === undefined ? undefined : parseTime('--since', o.since),
    until: o.until === undefined ? undefined : parseTime('--until', o.until),
  };
  if (format === 'signed' && (o.out === undefined || Object.values(filter).some((v) => v !== undefined))) {
    throw new UsageError('export audit --format signed writes the whole chain (no filters) to --out FILE');
  }
  const opened = await openDir(dir);
  try {
    if (format === 'signed') return await signedAudit(opened, o.out as string, note);
    const sink: Sink = o.out === undefined ? stdoutSink : await fileSink(opened.fs, o.out);
    const progress = new Progress(o.progress ?? true);
    try {
      const lines = await stream(opened, k, format === 'csv', filter, sink, progress);
      await sink.end();
      if (o.out !== undefined) note(`exported ${lines} ${k} line(s) to ${o.out} (LSN ${opened.log.seenLsn} seen)`);
    } catch (err) {
      await sink.abort();
      throw err;
    } finally {
      progress.done();
    }
    return Exit.OK;
  } finally {
    await opened.log.close();
  }
}

/** The record kind each export reads, and how a record of it is cut (docs/format.md, "Cold files"). */
const EXPORT_SOURCES: Readonly<Record<ExportKind, { kind: number; lsnCut: boolean; heightOf: (r: LogRecord) => number | undefined }>> = {
  votes: { kind: RecordKind.Vote, lsnCut: false, heightOf: (r) => decodeVoteRecord(r).vote.height },
  rewards: { kind: RecordKind.RewardDistribution, lsnCut: false, heightOf: (r) => decodeDistributionRecord(r.payload, r.lsn).distribution.height },
  audit: { kind: RecordKind.AuditEvent, lsnCut: true, heightOf: () => undefined },
  evidence: { kind: RecordKind.Evidence, lsnCut: false, heightOf: () => undefined },
};

/** Streams the lines of `kind` across the cold tier and the hot log, in LSN order, in slices of about 256 KiB. */
async function stream(opened: ReadOnlyDir, kind: ExportKind, csv: boolean, f: Filter, sink: Sink, progress: Progress): Promise<number> {
  const { log } = opened;
  let count = 0;
  if (csv) await sink.write(`${REWARDS_CSV_HEADER}\n`);
  let lines: string[] = [];
  let size = 0;
  const src = EXPORT_SOURCES[kind];
  if (kind === 'evidence' && log.firstLsn > 1) {
    // Evidence never goes cold, but the records before the log's first LSN were released with
    // their segments: the store (loaded from the image) holds them.
    for (const line of await releasedEvidenceLines(opened, f)) {
      lines.push(`${line}\n`);
      size += line.length + 1;
    }
  }
  await scanAcross(opened, [src.kind], src.lsnCut ? [src.kind] : [], (r) => src.heightOf(r as LogRecord), async (record) => {
    for (const line of linesOf(kind, csv, record as LogRecord, f)) {
      lines.push(`${line}\n`);
      size += line.length + 1;
    }
    if (size < 256 * 1024) return;
    await sink.write(lines.join(''));
    count += lines.length;
    lines = [];
    size = 0;
    progress.update(`export ${kind}: LSN`, record.lsn, log.seenLsn);
  });
  if (lines.length > 0) await sink.write(lines.join(''));
  return count + lines.length;
}

/**
 * The lines of the evidence stored before the log's first LSN (a released log), read from the
 * read-only stores, in LSN order. Each as its first record stored it, with its status now.
 */
async function releasedEvidenceLines(opened: ReadOnlyDir, f: Filter): Promise<string[]> {
  const store = await storesOf(opened);
  const found = new Map<string, StoredEvidence>();
  const collect = async (type: EvidenceType, lo: number, hi: number): Promise<void> => {
    const part = await store.evidence.queryByType(type, { startHeight: lo, endHeight: hi, limit: MAX_EVIDENCE_QUERY_LIMIT });
    if (part.length < MAX_EVIDENCE_QUERY_LIMIT || lo === hi) {
      for (const e of part) found.set(e.id, e);
      return;
    }
    const mid = lo + Math.floor((hi - lo) / 2);
    await collect(type, lo, mid);
    await collect(type, mid + 1, hi);
  };
  for (const type of EVIDENCE_TYPES) await collect(type, 0, Number.MAX_SAFE_INTEGER);
  const out = [...found.values()].filter((e) => e.lsn < opened.log.firstLsn && passes(f, e.height, e.detectedAt)).sort((a, b) => a.lsn - b.lsn);
  return out.map((e) => jsonLine({ lsn: e.lsn, id: e.id, type: e.type, validatorId: e.validatorId, height: e.height, detectedAt: e.detectedAt, submittedBy: e.submittedBy, verifiedByQuorum: e.verifiedByQuorum, status: e.status, failure: e.failure ?? null, recordedAt: e.recordedAt, details: e.details }));
}

/** The verifiable audit export (docs/audit.md, "Export"), checked offline with verifyAuditExport. */
async function signedAudit(opened: ReadOnlyDir, out: string, note: (text: string) => void): Promise<number> {
  const chainId = opened.recordedChainId;
  if (chainId === undefined) throw new ConsensusStoreError('INVALID_ARGUMENT', 'the directory records no chain id: the signed audit export binds every hash to it');
  const publicKey = await nodePublicKey(opened);
  if (publicKey === undefined) throw new ConsensusStoreError('NOT_FOUND', `no node.key in ${opened.dir}: the signed export names the key its heads verify with`);
  const tier = opened.coldTier;
  // The chain's older entries and heads live in the cold tier (docs/audit.md, "Export"): they come first.
  const cold =
    tier === undefined || tier.cut.lsn === 0
      ? undefined
      : async (feed: (records: readonly LogRecord[]) => Promise<boolean>): Promise<number> => {
          let block: LogRecord[] = [];
          for await (const record of coldRecordsInOrder(tier, [RecordKind.AuditEvent, RecordKind.AuditHead])) {
            block.push(record as LogRecord);
            if (block.length < 1024) continue;
            if (!(await feed(block))) return tier.cut.lsn;
            block = [];
          }
          if (block.length > 0) await feed(block);
          return tier.cut.lsn;
        };
  const r = await exportAuditRecords({ log: opened.log, fs: opened.fs, path: out, chainId, publicKey, cold });
  note(`exported ${r.entries} audit entries and ${r.heads} signed heads to ${out} (${r.bytes} bytes, LSN ${opened.log.seenLsn} seen)`);
  return Exit.OK;
}
