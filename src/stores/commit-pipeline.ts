/**
 * The commit pipeline (D3, docs/architecture.md): one batch made of the parts several stores
 * contribute, written with one `log.append`. Each part brings its records, the audit events it
 * causes and the step that folds its records into its store's indexes once durable. When a
 * batch carries events, the audit stage chains and signs their entries into that same batch
 * (the audit log alone orders its chain); otherwise the batch goes straight to the log. Once
 * the batch is durable, each part's step runs, in part order, and the call resolves: a write
 * goes down once and its acknowledgement comes back once.
 *
 * This file must never split a call's parts over two batches, run a part's step before the
 * whole batch is durable, or run any step for a batch that failed.
 */
import { invalidArgument } from '../errors.ts';
import type { Log, LogRecord, Lsn, RecordInput } from '../log/types.ts';
import type { AuditEvent } from '../model/audit.ts';

/** One store's share of a batch. */
export interface BatchPart {
  readonly records: readonly RecordInput[];
  /** Audit events this part causes: their entries join the batch (the audit stage). */
  readonly events?: readonly AuditEvent[];
  /** Folds this part's records, durable and with their LSNs, into the store's indexes. Synchronous; no I/O. */
  readonly onDurable?: (records: readonly LogRecord[]) => void;
}

/** The audit log's stage: appends `companions` and the entries of `events` as one batch, and resolves with the companions' LSNs. */
export interface AuditStage {
  appendWithEvents(events: readonly AuditEvent[], companions: readonly RecordInput[]): Promise<{ readonly lsns: Lsn[] }>;
}

/** Writes batches of parts (see the file comment). */
export class CommitPipeline {
  readonly #log: Log;
  readonly #audit: AuditStage | undefined;

  /** @param audit - the audit stage; without it a part with events is INVALID_ARGUMENT. */
  constructor(log: Log, audit?: AuditStage) {
    this.#log = log;
    this.#audit = audit;
  }

  /**
   * Writes every part's records (and the entries of their events) as one atomic batch, runs the
   * parts' durable steps in order, and resolves with each part's durable records.
   * @throws INVALID_ARGUMENT (no part, events without an audit stage), and the log's or the
   *   audit stage's write errors, with nothing written and no step run.
   */
  async commit(parts: readonly BatchPart[]): Promise<LogRecord[][]> {
    if (parts.length === 0) throw invalidArgument('parts', 'must not be empty');
    const records = parts.flatMap((p) => p.records);
    const events = parts.flatMap((p) => p.events ?? []);
    let lsns: readonly Lsn[];
    if (events.length === 0) {
      lsns = await this.#log.append(records);
    } else {
      if (this.#audit === undefined) throw invalidArgument('parts', 'carry audit events but the pipeline has no audit stage');
      lsns = (await this.#audit.appendWithEvents(events, records)).lsns;
    }
    const durable: LogRecord[][] = [];
    let at = 0;
    for (const part of parts) {
      const mine = part.records.map((r) => ({ lsn: lsns[at++] as Lsn, kind: r.kind, payload: r.payload }));
      durable.push(mine);
    }
    parts.forEach((part, i) => part.onDurable?.(durable[i] as LogRecord[]));
    return durable;
  }
}
