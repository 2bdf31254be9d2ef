/**
 * A log sequence number and the two shapes of a log record: the one a caller appends
 * (`RecordInput`) and the one the log hands back (`LogRecord`). The codecs build and read these,
 * the log frames and stores them, the stores program against them; `src/log/types.ts`
 * re-exports them with the log's own types.
 *
 * model/ holds plain values, their limits and their checks: it does no I/O and imports nothing
 * but model/ itself and src/errors.ts.
 */

/**
 * A log sequence number: the global, gap-free id of a record (1, 2, 3, ...). Returned as
 * `VoteLogEntry.id`, `LogEntry.id`. An LSN is not a height or a round: the brand keeps them apart.
 */
export type Lsn = number & { readonly __brand: 'Lsn' };

/** A record to append. `kind` 1..255 (0 is reserved for unwritten space); `payload` at most `maxRecordSize` bytes. */
export interface RecordInput {
  readonly kind: number;
  readonly payload: Uint8Array;
}

/** A record as stored. `payload` may share memory with a larger read buffer: copy it to keep it long. */
export interface LogRecord {
  readonly lsn: Lsn;
  readonly kind: number;
  readonly payload: Uint8Array;
}
