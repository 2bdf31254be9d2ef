/**
 * Checks `LogOptions` at the boundary and fills in every default: every limit is
 * bounded, configurable and has a sane default (the batch limits: D2 in docs/durability.md).
 *
 * This file must never do I/O and never coerce: a bad value is INVALID_ARGUMENT naming the option.
 * Defaults that depend on the segment size (batch bytes, record size) shrink to fit small
 * segments; explicit values that do not fit are rejected, never silently clamped.
 */
import {
  COMMIT_RECORD_BYTES,
  MAX_PAYLOAD_BYTES,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  recordSpan,
} from '../codec/framing.ts';
import { invalidArgument } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import { checkInteger, checkKeys } from '../model/check.ts';
import type { Durability, LogOptions } from './types.ts';

/** Default segment size: 64 MiB. */
export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
/** Smallest segment size. */
export const MIN_SEGMENT_SIZE = 4096;
/** Largest segment size (offsets inside a segment are u32 on disk and in the index). */
export const MAX_SEGMENT_SIZE = 1024 * 1024 * 1024;
/** Default largest payload: 1 MiB (or what fits the batch limit). */
export const DEFAULT_MAX_RECORD_SIZE = 1024 * 1024;
/** Default largest batch: 4 MiB (or what fits a segment). */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Default largest batch in records. */
export const DEFAULT_MAX_BATCH_RECORDS = 4096;
/** Default queue bound in records. */
export const DEFAULT_MAX_QUEUED_RECORDS = 1_000_000;
/** Largest `maxBatchDelayMs`. */
export const MAX_BATCH_DELAY_MS = 60_000;
/** Default number of sealed segments kept open for `get`. */
export const DEFAULT_MAX_OPEN_SEGMENTS = 32;

/** LogOptions with every default filled in and every value checked. */
export interface ResolvedLogOptions {
  readonly dir: string;
  readonly fs: FileSystem | undefined;
  readonly durability: Durability;
  readonly segmentSize: number;
  readonly maxRecordSize: number;
  readonly maxBatchBytes: number;
  readonly maxBatchRecords: number;
  readonly maxQueuedRecords: number;
  readonly maxBatchDelayMs: number;
  readonly maxOpenSegments: number;
  readonly repair: boolean;
}

/** Bytes of one batch holding a single record of `payloadLength` bytes, marker included. */
function singleRecordBatch(payloadLength: number): number {
  return recordSpan(payloadLength) + COMMIT_RECORD_BYTES;
}

/** Every key of `LogOptions`: any other is INVALID_ARGUMENT. */
export const LOG_OPTION_KEYS: readonly string[] = [
  'dir',
  'fs',
  'durability',
  'segmentSize',
  'maxRecordSize',
  'maxBatchBytes',
  'maxBatchRecords',
  'maxQueuedRecords',
  'maxBatchDelayMs',
  'maxOpenSegments',
  'repair',
];

/**
 * Checks `options` and returns them with defaults.
 *
 * @throws ConsensusStoreError INVALID_ARGUMENT naming the first bad option.
 */
export function resolveLogOptions(options: LogOptions, name = 'options'): ResolvedLogOptions {
  if (typeof options !== 'object' || options === null) throw invalidArgument(name, 'must be an object');
  checkKeys(name, options as unknown as Record<string, unknown>, LOG_OPTION_KEYS);
  const dir = options.dir;
  if (typeof dir !== 'string' || dir.length === 0) throw invalidArgument(`${name}.dir`, 'must be a non-empty string');
  const fs = options.fs;
  if (fs !== undefined && (typeof fs !== 'object' || fs === null || typeof fs.open !== 'function')) {
    throw invalidArgument(`${name}.fs`, 'must be a FileSystem');
  }
  const durability = options.durability ?? 'fsync';
  if (durability !== 'fsync' && durability !== 'none') {
    throw invalidArgument(`${name}.durability`, "must be 'fsync' or 'none'");
  }
  const segmentSize = checkInteger(`${name}.segmentSize`, options.segmentSize ?? DEFAULT_SEGMENT_SIZE, MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE);
  if (segmentSize % 4096 !== 0) throw invalidArgument(`${name}.segmentSize`, 'must be a multiple of 4096');
  const batchRoom = segmentSize - SEGMENT_HEADER_BYTES;
  const maxBatchBytes = checkInteger(
    `${name}.maxBatchBytes`,
    options.maxBatchBytes ?? Math.min(DEFAULT_MAX_BATCH_BYTES, batchRoom),
    singleRecordBatch(0),
    batchRoom,
  );
  const recordRoom = Math.min(MAX_PAYLOAD_BYTES, ((maxBatchBytes - COMMIT_RECORD_BYTES) & ~7) - RECORD_HEADER_BYTES);
  const maxRecordSize = checkInteger(
    `${name}.maxRecordSize`,
    options.maxRecordSize ?? Math.min(DEFAULT_MAX_RECORD_SIZE, recordRoom),
    0,
    recordRoom,
  );
  const maxBatchRecords = checkInteger(`${name}.maxBatchRecords`, options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS, 1, 1_000_000);
  const maxQueuedRecords = checkInteger(
    `${name}.maxQueuedRecords`,
    options.maxQueuedRecords ?? Math.max(DEFAULT_MAX_QUEUED_RECORDS, maxBatchRecords),
    maxBatchRecords,
    100_000_000,
  );
  const maxBatchDelayMs = checkInteger(`${name}.maxBatchDelayMs`, options.maxBatchDelayMs ?? 0, 0, MAX_BATCH_DELAY_MS);
  const maxOpenSegments = checkInteger(`${name}.maxOpenSegments`, options.maxOpenSegments ?? DEFAULT_MAX_OPEN_SEGMENTS, 1, 4096);
  const repair = options.repair ?? false;
  if (typeof repair !== 'boolean') throw invalidArgument(`${name}.repair`, 'must be a boolean');
  return {
    dir,
    fs,
    durability,
    segmentSize,
    maxRecordSize,
    maxBatchBytes,
    maxBatchRecords,
    maxQueuedRecords,
    maxBatchDelayMs,
    maxOpenSegments,
    repair,
  };
}
