/**
 * Metrics in the Prometheus text exposition format, version 0.0.4 (docs/operations.md,
 * "Metrics"), without a dependency: histograms with fixed buckets, the encoder of the text
 * format, and the counters the engine keeps (the WAL observer, the sign guard's outcomes, the
 * process-wide open refusals). No I/O here: `store.metrics()` gathers the values (store.ts,
 * `renderStoreMetrics`) and `src/cli/metrics-http.ts` serves them.
 *
 * Names follow Prometheus' conventions as etcd and Web3Signer use them: snake_case, the unit in
 * the name (`_seconds`, `_bytes`), `_total` on counters, one `cstore_` prefix.
 *
 * It must never allocate per record or per batch on the write path (`WalMetrics.batchWritten`
 * and `Histogram.observe` only add numbers), and never emit a line the format does not allow
 * (names and label names are checked, label values and help texts escaped).
 */
import { isStoreError } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import type { WalObserver } from '../log/group-commit.ts';
import { EVIDENCE_TYPES, type EvidenceStatus, type EvidenceType } from '../model/evidence.ts';
import { SIGN_STEPS, type SignWatermark } from '../model/sign.ts';
import { MAX_EVIDENCE_QUERY_LIMIT, type ByzantineEvidenceStore } from './evidence-types.ts';
import type { SignGuard } from './sign-guard-types.ts';

/** The Content-Type of the text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label names to values of one sample. */
export type Labels = Readonly<Record<string, string>>;

/** `count` upper bounds from `start`, each `factor` times the one before (Prometheus' ExponentialBuckets). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  let b = start;
  for (let i = 0; i < count; i++, b *= factor) out.push(Number(b.toPrecision(12)));
  return out;
}

/** WAL batch write + fdatasync: 100 µs .. 3.3 s (etcd's start at 1 ms is too coarse for NVMe). */
export const FSYNC_BUCKETS: readonly number[] = exponentialBuckets(0.0001, 2, 16);
/** Records per batch: 1 .. 4096 (the default `maxBatchRecords`). */
export const BATCH_RECORD_BUCKETS: readonly number[] = exponentialBuckets(1, 2, 13);
/** Image and snapshot writes: 1 ms .. 131 s. */
export const WRITE_DURATION_BUCKETS: readonly number[] = exponentialBuckets(0.001, 2, 18);

/**
 * A histogram with fixed upper bounds (`le`), the `+Inf` bucket implied. `observe` allocates
 * nothing: a scan of the bounds and three additions.
 */
export class Histogram {
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last one is `+Inf`. */
  readonly #counts: Float64Array;
  sum = 0;
  count = 0;

  /** @throws RangeError unless `bounds` are finite and strictly increasing. */
  constructor(bounds: readonly number[]) {
    for (let i = 0; i < bounds.length; i++) {
      const b = bounds[i] as number;
      if (!Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] as number))) throw new RangeError('histogram bounds must be finite and strictly increasing');
    }
    this.bounds = bounds.slice();
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.#counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }

  /** Cumulative counts per bound, `+Inf` last (equal to `count`). */
  cumulative(): number[] {
    const out: number[] = [];
    let acc = 0;
    for (const c of this.#counts) out.push((acc += c));
    return out;
  }
}

/** One sample of a counter or gauge. */
export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A value as the format writes it (Go's ParseFloat reads it back). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** A label value escaped: backslash, double quote, line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(labels: Labels | undefined, extra?: readonly [string, string]): string {
  const parts: string[] = [];
  if (labels !== undefined) {
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_NAME.test(k) || k.startsWith('__') || k === 'le') throw new RangeError(`bad label name ${JSON.stringify(k)}`);
      parts.push(`${k}="${escapeLabelValue(v)}"`);
    }
  }
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Builds one exposition: each metric family once, its HELP and TYPE lines, then its samples. */
export class Exposition {
  readonly #lines: string[] = [];
  readonly #names = new Set<string>();

  #family(name: string, help: string, type: 'counter' | 'gauge' | 'histogram'): void {
    if (!NAME.test(name)) throw new RangeError(`bad metric name ${JSON.stringify(name)}`);
    if (type === 'counter' && !name.endsWith('_total')) throw new RangeError(`counter ${name} must end in _total`);
    if (this.#names.has(name)) throw new RangeError(`metric ${name} written twice`);
    this.#names.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  #samples(name: string, help: string, type: 'counter' | 'gauge', value: number | readonly Sample[]): this {
    this.#family(name, help, type);
    const samples = typeof value === 'number' ? [{ value }] : value;
    for (const s of samples) this.#lines.push(`${name}${labelText(s.labels)} ${formatValue(s.value)}`);
    return this;
  }

  /** A counter (name ends in `_total`): one value, or one sample per label set. */
  counter(name: string, help: string, value: number | readonly Sample[]): this {
    return this.#samples(name, help, 'counter', value);
  }

  /** A gauge: one value, or one sample per label set (none: the family with no sample). */
  gauge(name: string, help: string, value: number | readonly Sample[]): this {
    return this.#samples(name, help, 'gauge', value);
  }

  /** A histogram: cumulative `_bucket` lines (`le`, `+Inf` last), `_sum`, `_count`. */
  histogram(name: string, help: string, h: Histogram | readonly { readonly labels: Labels; readonly histogram: Histogram }[]): this {
    this.#family(name, help, 'histogram');
    const series = h instanceof Histogram ? [{ labels: {}, histogram: h }] : h;
    for (const { labels, histogram } of series) {
      const cumulative = histogram.cumulative();
      histogram.bounds.forEach((b, i) => this.#lines.push(`${name}_bucket${labelText(labels, ['le', formatValue(b)])} ${formatValue(cumulative[i] as number)}`));
      this.#lines.push(`${name}_bucket${labelText(labels, ['le', '+Inf'])} ${formatValue(histogram.count)}`);
      this.#lines.push(`${name}_sum${labelText(labels)} ${formatValue(histogram.sum)}`);
      this.#lines.push(`${name}_count${labelText(labels)} ${formatValue(histogram.count)}`);
    }
    return this;
  }

  /** The text: one line each, ending with a line feed. */
  text(): string {
    return this.#lines.length === 0 ? '' : `${this.#lines.join('\n')}\n`;
  }
}

/** Counts by label value, for counters with one label. */
export class LabeledCounter {
  readonly #counts = new Map<string, number>();

  inc(label: string, by = 1): void {
    this.#counts.set(label, (this.#counts.get(label) ?? 0) + by);
  }

  get(label: string): number {
    return this.#counts.get(label) ?? 0;
  }

  /** Samples under `labelName`, the `always` values first (0 when never counted), then the others. */
  samples(labelName: string, always: readonly string[] = []): Sample[] {
    const out: Sample[] = always.map((v) => ({ labels: { [labelName]: v }, value: this.get(v) }));
    for (const [v, n] of this.#counts) if (!always.includes(v)) out.push({ labels: { [labelName]: v }, value: n });
    return out;
  }
}

/** The WAL's observer (`WriteAheadLog.observe`): batch write times, sizes, bytes, read corruptions. */
export class WalMetrics implements WalObserver {
  /** One batch's write and fdatasync (one `writeAndSync`), seconds. */
  readonly fsyncSeconds = new Histogram(FSYNC_BUCKETS);
  readonly batchRecords = new Histogram(BATCH_RECORD_BUCKETS);
  /** Bytes of the batches written: records with their framing and the commit markers. */
  bytesWritten = 0;
  /** CORRUPTION raised by `get` or `scan` after the open. */
  readCorruptions = 0;

  batchWritten(records: number, bytes: number, seconds: number): void {
    this.fsyncSeconds.observe(seconds);
    this.batchRecords.observe(records);
    this.bytesWritten += bytes;
  }

  corruptionRead(): void {
    this.readCorruptions++;
  }
}

/** The sign guard's refusal reasons, as labels (its CONFLICT `details.reason`, mapped). */
const REFUSAL_REASONS: Readonly<Record<string, string>> = {
  'height regression': 'height_regression',
  'round regression': 'round_regression',
  'step regression': 'step_regression',
  'conflicting data for an already signed height, round and step': 'conflicting_data',
  'watermark has no sign bytes for this height, round and step (imported)': 'imported_watermark',
  'at or below the restore fence': 'restore_fence',
};
/** Reasons always exposed (0 until one happens), so that a rate() has a series from the start. */
export const SIGN_REFUSAL_REASONS: readonly string[] = ['height_regression', 'round_regression', 'step_regression', 'conflicting_data', 'imported_watermark', 'invalid_request'];

/** Outcomes of sign requests of one open store (`signVote`, `signProposal`). */
export class SignMetrics {
  /** New signatures made and persisted. */
  signed = 0;
  /** Requests answered with the stored signature (the same request again). */
  repeated = 0;
  /** Refusals by reason (CONFLICT, INVALID_ARGUMENT). */
  readonly refused = new LabeledCounter();
  /** Other failures by error code (CLOSED, IO_FAILED, DISK_FULL, CORRUPTION, ...). */
  readonly failed = new LabeledCounter();
  /** When the last new signature was released, ms since the epoch (the store's clock), if one was in this open. */
  lastSignedAtMs: number | undefined;

  signedNow(repeat: boolean, nowMs: number): void {
    if (repeat) {
      this.repeated++;
      return;
    }
    this.signed++;
    this.lastSignedAtMs = nowMs;
  }

  /** Counts a failed sign request as a refusal (by reason) or a failure (by code). */
  failedWith(err: unknown): void {
    if (!isStoreError(err)) {
      this.failed.inc('internal');
      return;
    }
    if (err.code === 'CONFLICT') {
      const reason = (err.details as { reason?: unknown } | undefined)?.reason;
      this.refused.inc((typeof reason === 'string' ? REFUSAL_REASONS[reason] : undefined) ?? 'conflict');
    } else if (err.code === 'INVALID_ARGUMENT') this.refused.inc('invalid_request');
    else this.failed.inc(err.code.toLowerCase());
  }
}

/**
 * `guard` with its sign requests counted in `metrics`, for a backend whose guard does not count
 * them itself (PostgreSQL). A success that leaves the watermark where it was returned the stored
 * signature (`repeat`).
 */
export function countedSignGuard(guard: SignGuard, metrics: SignMetrics, now: () => number): SignGuard {
  const counted = async <T>(sign: () => Promise<T>): Promise<T> => {
    let before: SignWatermark | undefined;
    try {
      before = guard.watermark();
    } catch {
      before = undefined;
    }
    try {
      const out = await sign();
      const after = guard.watermark();
      const same = before !== undefined && after !== undefined && before.height === after.height && before.round === after.round && before.step === after.step;
      metrics.signedNow(same, now());
      return out;
    } catch (err) {
      metrics.failedWith(err);
      throw err;
    }
  };
  return {
    get publicKey() {
      return guard.publicKey;
    },
    watermark: () => guard.watermark(),
    signVote: (vote) => counted(() => guard.signVote(vote)),
    signProposal: (proposal) => counted(() => guard.signProposal(proposal)),
    importWatermark: (watermark) => guard.importWatermark(watermark),
  };
}

/**
 * Process-wide: what refused or failed an open (the store does not exist then, so these live
 * in the process; every store's exposition carries them).
 */
export const processMetrics = {
  /** The sign guard's open-time refusals (FRESH_SIGN_STATE) by rule. */
  openRefusals: new LabeledCounter(),
  /** Failed opens by error code. */
  openFailures: new LabeledCounter(),
};

/** The open-time rules of the sign guard, as labels. */
export const OPEN_REFUSAL_REASONS: readonly string[] = ['fresh_state', 'repair_barrier', 'sign_state_copy', 'restore_fence'];

/** Image or snapshot writes: their durations (successful ones) and failures. */
export class WriteMetrics {
  readonly seconds = new Histogram(WRITE_DURATION_BUCKETS);
  failures = 0;

  /** Times `run`: its duration when it resolves, a failure when it rejects. */
  async time<T>(run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const out = await run();
      this.seconds.observe((performance.now() - started) / 1000);
      return out;
    } catch (err) {
      this.failures++;
      throw err;
    }
  }
}

/** What the open of a WAL store measured. */
export interface OpenMetrics {
  /** The log's own open (lock, manifest, segment checks, tail). */
  readonly walOpenSeconds: number;
  readonly replaySeconds: number;
  readonly replayRecords: number;
  readonly imageLoaded: boolean;
  readonly imageLoadSeconds: number;
  /** Local images that failed a check and were skipped. */
  readonly imagesRejected: number;
  readonly tornBytesCut: number;
  /** An explicit repair cut damaged data in this open. */
  readonly repairCut: boolean;
}

/** Everything `renderStoreMetrics` reads; absent parts are left out of the text. */
export interface StoreMetricsSource {
  readonly backend: 'wal' | 'log' | 'postgres';
  readonly now: () => number;
  readonly status: () => string;
  readonly nextLsn: () => number | undefined;
  readonly wal?: WalMetrics;
  /** The open, first check to the returned store, seconds. */
  readonly openSeconds?: number;
  /** What the open of the log found and did (a log-based store). */
  readonly open?: OpenMetrics;
  readonly sign: SignMetrics;
  readonly watermark: () => SignWatermark | undefined;
  readonly evidence?: ByzantineEvidenceStore;
  readonly images?: WriteMetrics;
  readonly snapshots?: WriteMetrics;
  /** Bytes on disk by kind (`wal`, `image`, `snapshot`, `other`). */
  readonly diskBytes?: () => Promise<Readonly<Record<string, number>>>;
}

const STATUSES = ['open', 'poisoned', 'closing', 'closed'];

/** The whole exposition of one store, then the process's. */
export async function renderStoreMetrics(s: StoreMetricsSource): Promise<string> {
  const x = new Exposition();
  const status = s.status();
  x.gauge('cstore_info', 'The store: its backend (constant 1).', [{ labels: { backend: s.backend }, value: 1 }]);
  x.gauge('cstore_status', 'The store lifecycle state: 1 for the current one (poisoned: a write failed, reopen to go on).', STATUSES.map((st) => ({ labels: { status: st }, value: st === status ? 1 : 0 })));
  const next = safely(s.nextLsn);
  if (next !== undefined) x.gauge('cstore_wal_last_lsn', 'LSN of the last record written (next LSN minus one).', next - 1);

  if (s.wal !== undefined) {
    x.histogram('cstore_wal_fsync_duration_seconds', 'Latency of one WAL batch write and its fdatasync (one writeAndSync), seconds (cf. etcd_disk_wal_fsync_duration_seconds).', s.wal.fsyncSeconds);
    x.counter('cstore_wal_write_bytes_total', 'Bytes of WAL batches written: records with their framing and commit markers.', s.wal.bytesWritten);
    x.histogram('cstore_wal_batch_records', 'Records per WAL batch (group commit: one write and one fdatasync per batch).', s.wal.batchRecords);
  }

  if (s.openSeconds !== undefined) x.gauge('cstore_open_duration_seconds', 'Duration of the open of this store (the call to the returned store), seconds.', s.openSeconds);
  if (s.open !== undefined) {
    const o = s.open;
    x.gauge('cstore_wal_open_duration_seconds', "Duration of the log's own open (lock, manifest, segment checks, tail), seconds.", o.walOpenSeconds);
    x.gauge('cstore_replay_duration_seconds', 'Duration of the replay pass of the open (records after the local image), seconds.', o.replaySeconds);
    x.gauge('cstore_replay_records', 'Records replayed by the open.', o.replayRecords);
    x.gauge('cstore_replay_image_loaded', 'Whether the open loaded a local image (1) or replayed the whole log (0) (store.replay.image).', o.imageLoaded ? 1 : 0);
    x.gauge('cstore_replay_image_load_duration_seconds', 'Duration of loading the local image, seconds (0 without one).', o.imageLoadSeconds);
    x.gauge('cstore_wal_torn_bytes_cut', 'Bytes of a torn, unacknowledged tail batch the open cut away (a crash, not damage).', o.tornBytesCut);
  }
  const corruptions: Sample[] = [];
  if (s.open !== undefined) {
    corruptions.push({ labels: { source: 'wal_repair' }, value: s.open.repairCut ? 1 : 0 });
    corruptions.push({ labels: { source: 'local_image' }, value: s.open.imagesRejected });
  }
  if (s.wal !== undefined) corruptions.push({ labels: { source: 'read' }, value: s.wal.readCorruptions });
  if (corruptions.length > 0) {
    x.counter('cstore_corruptions_total', 'Damage found since the open: wal_repair (an explicit repair cut damaged data at open), local_image (an image failed its checks and was skipped), read (CORRUPTION raised by a read).', corruptions);
  }

  const sign = s.sign;
  x.counter('cstore_signguard_permitted_signings_total', 'Sign requests the sign guard answered: signature="new" (signed and persisted) or "stored" (the same request again, the stored signature).', [
    { labels: { signature: 'new' }, value: sign.signed },
    { labels: { signature: 'stored' }, value: sign.repeated },
  ]);
  x.counter('cstore_signguard_prevented_signings_total', 'Sign requests the sign guard refused, by reason (CONFLICT: a regression or conflicting data; INVALID_ARGUMENT: invalid_request).', sign.refused.samples('reason', SIGN_REFUSAL_REASONS));
  x.counter('cstore_signguard_failed_signings_total', 'Sign requests that failed for another reason, by error code (closed, io_failed, disk_full, corruption, ...).', sign.failed.samples('code'));
  const w = safely(s.watermark);
  if (w !== undefined) {
    x.gauge('cstore_signguard_last_signed_height', "Height of the node key's watermark (last signed or imported).", w.height);
    x.gauge('cstore_signguard_last_signed_round', "Round of the node key's watermark.", w.round);
    x.gauge('cstore_signguard_last_signed_step', "Step of the node key's watermark: 1 propose, 2 prevote, 3 precommit, 4 commit.", SIGN_STEPS.indexOf(w.step) + 1);
  }
  if (sign.lastSignedAtMs !== undefined) {
    x.gauge('cstore_signguard_last_signature_timestamp_seconds', 'When the last new signature of this open was released, seconds since the epoch.', sign.lastSignedAtMs / 1000);
    x.gauge('cstore_signguard_seconds_since_last_signature', 'Seconds since the last new signature of this open (absent until one).', Math.max(0, (s.now() - sign.lastSignedAtMs) / 1000));
  }

  if (s.evidence !== undefined) {
    const counts = await safelyAsync(() => evidenceCounts(s.evidence as ByzantineEvidenceStore));
    if (counts !== undefined) x.gauge('cstore_evidence', 'Byzantine evidence held (expired excluded), by type and status.', counts);
  }
  if (s.images !== undefined) writeFamilies(x, 'cstore_image', 'local image', s.images);
  if (s.snapshots !== undefined) writeFamilies(x, 'cstore_snapshot', 'portable snapshot', s.snapshots);
  if (s.diskBytes !== undefined) {
    const bytes = await safelyAsync(s.diskBytes);
    if (bytes !== undefined) x.gauge('cstore_disk_bytes', 'Bytes on disk in the data directory, by kind (wal segments, local images, portable snapshots).', Object.entries(bytes).map(([kind, value]) => ({ labels: { kind }, value })));
  }
  writeProcessMetrics(x);
  return x.text();
}

function writeFamilies(x: Exposition, prefix: string, what: string, m: WriteMetrics): void {
  x.histogram(`${prefix}_write_duration_seconds`, `Duration of each ${what} written (capture, encode, write, fsync, rename), seconds.`, m.seconds);
  x.counter(`${prefix}_write_failures_total`, `${what[0]?.toUpperCase()}${what.slice(1)} writes that failed (the store is not affected).`, m.failures);
}

/** The process's counters: open refusals and failures, CPU, memory, start time. */
export function writeProcessMetrics(x: Exposition): void {
  x.counter('cstore_signguard_open_refusals_total', "Opens the sign guard refused with FRESH_SIGN_STATE in this process, by rule (fresh_state, repair_barrier, sign_state_copy, restore_fence).", processMetrics.openRefusals.samples('reason', OPEN_REFUSAL_REASONS));
  x.counter('cstore_open_failures_total', 'Store opens that failed in this process, by error code.', processMetrics.openFailures.samples('code'));
  const cpu = process.cpuUsage();
  x.counter('process_cpu_user_seconds_total', 'User CPU time spent, seconds.', cpu.user / 1e6);
  x.counter('process_cpu_system_seconds_total', 'System CPU time spent, seconds.', cpu.system / 1e6);
  x.counter('process_cpu_seconds_total', 'User and system CPU time spent, seconds.', (cpu.user + cpu.system) / 1e6);
  x.gauge('process_start_time_seconds', 'Start time of the process since the epoch, seconds.', Math.round(performance.timeOrigin) / 1000);
  const mem = process.memoryUsage();
  x.gauge('process_resident_memory_bytes', 'Resident memory size, bytes.', mem.rss);
  x.gauge('nodejs_heap_size_total_bytes', 'V8 heap size, bytes.', mem.heapTotal);
  x.gauge('nodejs_heap_size_used_bytes', 'V8 heap used, bytes.', mem.heapUsed);
  x.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects, bytes.', mem.external);
}

/** The exposition of the process alone (no store). */
export function renderProcessMetrics(): string {
  const x = new Exposition();
  writeProcessMetrics(x);
  return x.text();
}

/**
 * Evidence held by type and status, through the store interface (`queryByType`, paged by
 * height), so that any backend's evidence store can be counted.
 */
export async function evidenceCounts(store: ByzantineEvidenceStore): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const type of EVIDENCE_TYPES) {
    const by: Record<EvidenceStatus, number> = { verified: 0, unverified: 0 };
    let from = 0;
    for (;;) {
      const page = await store.queryByType(type as EvidenceType, { startHeight: from, limit: MAX_EVIDENCE_QUERY_LIMIT });
      const full = page.length === MAX_EVIDENCE_QUERY_LIMIT;
      const lastHeight = page[page.length - 1]?.height ?? from;
      // A full page: count what lies below its last height, and read that height again next time.
      const cut = full && lastHeight > from ? lastHeight : Infinity;
      for (const e of page) if (e.height < cut) by[e.status]++;
      if (!full || lastHeight <= from) break;
      from = lastHeight;
    }
    out.push({ labels: { type, status: 'verified' }, value: by.verified }, { labels: { type, status: 'unverified' }, value: by.unverified });
  }
  return out;
}

/** Bytes of the files under `dir` whose names pass `keep` (not recursive); 0 for a missing directory. */
export async function bytesIn(fs: FileSystem, dir: string, keep: (name: string) => boolean = () => true): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  let total = 0;
  for (const name of names) {
    if (!keep(name)) continue;
    // A file removed meanwhile (pruning, rotation) counts nothing.
    const st = await fs.stat(`${dir}/${name}`).catch(() => undefined);
    if (st !== undefined) total += st.size;
  }
  return total;
}

function safely<T>(get: () => T): T | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}

async function safelyAsync<T>(get: () => Promise<T>): Promise<T | undefined> {
  try {
    return await get();
  } catch {
    return undefined;
  }
}
