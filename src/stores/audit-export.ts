/**
 * Export of the audit chain as a self-contained JSON Lines file, and its offline check
 * (docs/audit.md, "Export"). One header line (chain id, public key), one line per durable audit
 * record in log order (entries with every field hex-encoded, numbers as decimal strings; heads
 * with their signatures), one end line with the counts.
 *
 * The export streams: the log is scanned in slices of about `CHUNK_BYTES` of output, each slice
 * written through `FileHandle.write` before the next is read, so memory stays bounded whatever
 * the chain's length. With a cold tier (docs/audit.md, "What lives where") the cold records come
 * first, read block by block, then the log after the cut: the same lines as if the whole chain
 * were in the log. The file appears only complete (temp + datasync + rename + dir fsync).
 * `verifyAuditExport` reads a file (or bytes) line by line and feeds the same
 * `AuditChainVerifier` that `verifyIntegrity` uses. Every line must be byte-for-byte the
 * canonical line for its fields, so no byte can change unnoticed, except the `id` (the LSN),
 * which is a locator the chain does not cover (checked only to increase).
 */
import { encodeEntryBody, parseEntryBody, splitEntryPayload, decodeHeadPayload } from '../codec/audit-record.ts';
import type { HeadFields } from '../codec/audit-record.ts';
import { auditEventTypeOfCode } from '../codec/audit-event.ts';
import { RecordKind } from '../codec/kinds.ts';
import { fromHex, toHex } from '../codec/node-key.ts';
import { checkChainId } from '../model/vote.ts';
import { ConsensusStoreError } from '../errors.ts';
import { errnoOf, type FileSystem } from '../io/types.ts';
import type { Log, LogRecord, Lsn } from '../log/types.ts';
import { checkBytes, checkString } from '../model/check.ts';
import { AUDIT_EVENT_CODES } from '../model/audit.ts';
import type { AuditEventType } from '../model/audit.ts';
import type { IntegrityReport } from './audit-types.ts';
import { AuditChainVerifier } from './audit-verify.ts';

/** Output bytes gathered before each write. */
export const CHUNK_BYTES = 256 * 1024;
/** Longest line a verifier accepts (a bound on untrusted input). */
export const MAX_LINE_BYTES = 1024 * 1024;
/** The `format` of the header line. */
export const EXPORT_FORMAT = 'cstore-audit-export';

const utf8 = new TextEncoder();

/** The canonical header line. */
function headerLine(chainId: string, publicKey: Uint8Array): string {
  return JSON.stringify({ format: EXPORT_FORMAT, version: 1, chainId, publicKey: toHex(publicKey) });
}

interface EntryLine {
  readonly id: number;
  readonly sequence: number;
  readonly timestamp: number;
  readonly event: AuditEventType;
  readonly prevHash: Uint8Array;
  readonly eventBytes: Uint8Array;
  readonly hash: Uint8Array;
}

function entryLine(e: EntryLine): string {
  return JSON.stringify({
    type: 'entry',
    id: String(e.id),
    sequence: String(e.sequence),
    timestamp: String(e.timestamp),
    event: e.event,
    prevHash: toHex(e.prevHash),
    eventBytes: toHex(e.eventBytes),
    hash: toHex(e.hash),
  });
}

function headLine(id: number, h: HeadFields): string {
  return JSON.stringify({
    type: 'head',
    id: String(id),
    treeSize: String(h.treeSize),
    lastEntryHash: toHex(h.lastEntryHash),
    root: toHex(h.root),
    signature: toHex(h.signature),
  });
}

function damagedLine(id: number, kind: number, payload: Uint8Array): string {
  return JSON.stringify({ type: 'damaged', id: String(id), kind: String(kind), payload: toHex(payload) });
}

function endLine(entries: number, heads: number): string {
  return JSON.stringify({ type: 'end', entries: String(entries), heads: String(heads) });
}

/** The export line of one audit record. */
function recordLine(record: LogRecord): { line: string; entry: boolean; head: boolean } {
  try {
    if (record.kind === RecordKind.AuditHead) return { line: headLine(record.lsn, decodeHeadPayload(record.payload)), entry: false, head: true };
    const { hash, body } = splitEntryPayload(record.payload);
    const f = parseEntryBody(body);
    const event = auditEventTypeOfCode(f.eventCode);
    if (event === undefined) throw new Error('unknown event code');
    return { line: entryLine({ id: record.lsn, sequence: f.sequence, timestamp: f.timestamp, event, prevHash: f.prevHash, eventBytes: f.eventBytes, hash }), entry: true, head: false };
  } catch {
    return { line: damagedLine(record.lsn, record.kind, record.payload), entry: false, head: false };
  }
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? (i === 0 ? '/' : '.') : path.slice(0, i);
}

function ioError(err: unknown, path: string): unknown {
  if (err instanceof ConsensusStoreError) return err;
  const code = errnoOf(err);
  if (code === 'ENOSPC') return new ConsensusStoreError('DISK_FULL', `no space to write ${path}`, { cause: err });
  return new ConsensusStoreError('IO_FAILED', `audit export to ${path}: ${code ?? 'error'}`, { cause: err });
}

/** What `exportAuditRecords` needs. */
export interface ExportSource {
  readonly log: Log;
  readonly fs: FileSystem;
  readonly path: string;
  readonly chainId: string;
  readonly publicKey: Uint8Array;
  /**
   * Hands `feed` the records that live in the cold tier, in LSN order, a block at a time, and
   * resolves with the LSN the log is read after (0: none are cold).
   */
  readonly cold?: ((feed: (records: readonly LogRecord[]) => Promise<boolean>) => Promise<number>) | undefined;
}

/**
 * Streams every durable audit record of `log` to `path` (see the top comment).
 * @returns the counts and the file's size.
 * @throws INVALID_ARGUMENT (bad path), IO_FAILED / DISK_FULL (the temp file is left behind
 *   only if removing it fails too), and the log's read errors.
 */
export async function exportAuditRecords(source: ExportSource): Promise<{ entries: number; heads: number; bytes: number }> {
  const path = checkString('path', source.path, 4096);
  const { fs, log } = source;
  const temp = `${path}.tmp`;
  let position = 0;
  let entries = 0;
  let heads = 0;
  let handle: Awaited<ReturnType<FileSystem['open']>> | undefined;
  try {
    handle = await fs.open(temp, 'create');
    await handle.truncate(0);
    const write = async (lines: string[]): Promise<void> => {
      const bytes = utf8.encode(lines.join(''));
      await (handle as NonNullable<typeof handle>).write([bytes], position);
      position += bytes.length;
    };
    await write([`${headerLine(source.chainId, source.publicKey)}\n`]);
    let lines: string[] = [];
    let size = 0;
    /** Adds the line of an audit record; true when a slice is full. */
    const add = (record: LogRecord): boolean => {
      if (record.kind !== RecordKind.AuditEvent && record.kind !== RecordKind.AuditHead) return false;
      const r = recordLine(record);
      if (r.entry) entries++;
      if (r.head) heads++;
      lines.push(`${r.line}\n`);
      size += r.line.length + 1;
      return size >= CHUNK_BYTES;
    };
    const flush = async (): Promise<void> => {
      if (lines.length > 0) await write(lines);
      lines = [];
      size = 0;
    };
    let from: Lsn | undefined;
    if (source.cold !== undefined) {
      const after = await source.cold(async (block) => {
        for (const record of block) add(record);
        if (size >= CHUNK_BYTES) await flush();
        return true;
      });
      if (after > 0) from = (after + 1) as Lsn;
    }
    for (;;) {
      let stoppedAt: Lsn | undefined;
      await log.scan((record) => {
        if (!add(record)) return true;
        stoppedAt = record.lsn;
        return false;
      }, from);
      await flush();
      if (stoppedAt === undefined) break;
      from = (stoppedAt + 1) as Lsn;
    }
    await write([`${endLine(entries, heads)}\n`]);
    await handle.datasync();
    await handle.close();
    handle = undefined;
    await fs.rename(temp, path);
    await fs.syncDir(parentOf(path));
  } catch (err) {
    await handle?.close().catch(() => undefined);
    if (handle !== undefined) await fs.unlink(temp).catch(() => undefined);
    throw ioError(err, path);
  }
  return { entries, heads, bytes: position };
}

/** Reads `path` line by line in bounded chunks. */
async function* linesOfFile(fs: FileSystem, path: string): AsyncGenerator<Uint8Array> {
  const handle = await fs.open(path, 'read');
  try {
    const buf = new Uint8Array(CHUNK_BYTES);
    let carry = new Uint8Array(0);
    let position = 0;
    for (;;) {
      const n = await handle.read(buf, position);
      if (n === 0) break;
      position += n;
      const chunk = new Uint8Array(carry.length + n);
      chunk.set(carry);
      chunk.set(buf.subarray(0, n), carry.length);
      let start = 0;
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== 0x0a) continue;
        yield chunk.subarray(start, i);
        start = i + 1;
      }
      carry = chunk.slice(start);
      if (carry.length > MAX_LINE_BYTES) throw new Error(`a line longer than ${MAX_LINE_BYTES} bytes`);
    }
    if (carry.length > 0) yield carry;
  } finally {
    await handle.close();
  }
}

function* linesOfBytes(bytes: Uint8Array): Generator<Uint8Array> {
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    yield bytes.subarray(start, i);
    start = i + 1;
  }
  if (start < bytes.length) yield bytes.subarray(start);
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function hex(value: unknown): Uint8Array {
  const b = typeof value === 'string' ? fromHex(value) : undefined;
  if (b === undefined) throw new Error('a hex field is not lowercase hex');
  return b;
}

function decimal(value: unknown): number {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) throw new Error('a number field is not a decimal string');
  return Number(value);
}

/** Checks one export file line by line; see `verifyAuditExport`. */
class ExportChecker {
  private verifier: AuditChainVerifier | undefined;
  private lineNo = 0;
  private lastId = 0;
  private entries = 0;
  private heads = 0;
  private ended = false;
  private problem: { id: number; reason: string } | undefined;

  constructor(private readonly publicKey: Uint8Array) {}

  /** False once a problem was found. */
  line(bytes: Uint8Array): boolean {
    this.lineNo++;
    try {
      this.check(utf8Strict.decode(bytes));
    } catch (err) {
      this.problem ??= { id: this.lastId, reason: `line ${this.lineNo}: ${(err as Error).message}` };
    }
    return this.problem === undefined && this.verifier?.failed !== true;
  }

  private check(text: string): void {
    if (this.ended) throw new Error('a line after the end line');
    const o = JSON.parse(text) as Record<string, unknown>;
    if (this.verifier === undefined) {
      if (o.format !== EXPORT_FORMAT || o.version !== 1) throw new Error('not a cstore-audit-export version 1 file');
      const chainId = checkChainId('chainId', o.chainId);
      const key = hex(o.publicKey);
      if (toHex(key) !== toHex(this.publicKey)) throw new Error('the file names another node key');
      if (headerLine(chainId, key) !== text) throw new Error('header is not canonical');
      this.verifier = new AuditChainVerifier(chainId, this.publicKey);
      return;
    }
    if (o.type === 'end') {
      if (endLine(decimal(o.entries), decimal(o.heads)) !== text) throw new Error('end line is not canonical');
      if (decimal(o.entries) !== this.entries || decimal(o.heads) !== this.heads) throw new Error('end line counts differ from the file (lines were removed or added)');
      this.ended = true;
      return;
    }
    const id = decimal(o.id);
    if (id <= this.lastId) throw new Error('ids do not increase');
    this.lastId = id;
    if (o.type === 'entry') {
      const event = o.event as AuditEventType;
      const code = AUDIT_EVENT_CODES[event];
      if (typeof event !== 'string' || code === undefined || !Object.hasOwn(AUDIT_EVENT_CODES, event)) throw new Error('unknown event type');
      const e: EntryLine = { id, sequence: decimal(o.sequence), timestamp: decimal(o.timestamp), event, prevHash: hex(o.prevHash), eventBytes: hex(o.eventBytes), hash: hex(o.hash) };
      if (entryLine(e) !== text) throw new Error('entry line is not canonical');
      if (e.prevHash.length !== 32) throw new Error('prevHash is not 32 bytes');
      this.entries++;
      const body = encodeEntryBody({ sequence: e.sequence, prevHash: e.prevHash, eventCode: code, timestamp: e.timestamp, eventBytes: e.eventBytes });
      this.verifier.entry(id, { hash: e.hash, body });
    } else if (o.type === 'head') {
      const h = { treeSize: decimal(o.treeSize), lastEntryHash: hex(o.lastEntryHash), root: hex(o.root), signature: hex(o.signature) };
      if (headLine(id, h) !== text) throw new Error('head line is not canonical');
      this.heads++;
      this.verifier.head(id, h);
    } else if (o.type === 'damaged') {
      this.verifier.damaged(id, 'exported as damaged');
    } else {
      throw new Error('unknown line type');
    }
  }

  finish(): IntegrityReport {
    if (this.problem === undefined && this.verifier !== undefined && !this.verifier.failed && !this.ended) {
      this.problem = { id: this.lastId, reason: 'the file has no end line (truncated)' };
    }
    if (this.verifier === undefined) this.problem ??= { id: 0, reason: 'empty file' };
    const report = this.verifier?.finish() ?? { ok: false, checked: 0, heads: 0 };
    if (!report.ok || this.problem === undefined) return report;
    return { ok: false, checked: report.checked, heads: report.heads, firstBad: { id: this.problem.id as Lsn, reason: this.problem.reason } };
  }
}

/**
 * Checks an exported audit file offline with the node's chain code: every line canonical, every
 * entry's hash, sequence and link, every head's root and signature with `publicKey`, and the end
 * line's counts. Give the file's bytes, or a FileSystem and path (read in bounded chunks).
 * @returns the same report as `verifyIntegrity`; `firstBad.id` is the LSN of the bad entry (or
 *   the last good id before a malformed line). Never throws for a bad file.
 * @throws ConsensusStoreError INVALID_ARGUMENT for a bad `publicKey`; IO_FAILED when the file
 *   cannot be read.
 */
export async function verifyAuditExport(source: Uint8Array | { readonly fs: FileSystem; readonly path: string }, publicKey: Uint8Array): Promise<IntegrityReport> {
  const key = checkBytes('publicKey', publicKey, 32);
  const checker = new ExportChecker(key);
  if (source instanceof Uint8Array) {
    for (const line of linesOfBytes(source)) if (!checker.line(line)) break;
    return checker.finish();
  }
  try {
    for await (const line of linesOfFile(source.fs, source.path)) if (!checker.line(line)) break;
  } catch (err) {
    if (err instanceof Error && errnoOf(err) === undefined) return { ok: false, checked: 0, heads: 0, firstBad: { id: 0 as Lsn, reason: err.message } };
    throw ioError(err, source.path);
  }
  return checker.finish();
}
