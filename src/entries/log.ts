/**
 * `consensus-store/log`: the raw segmented write-ahead log (docs/format.md, docs/durability.md)
 * and the file-system interface it writes through. For tools and other engines built on the
 * log itself; a store opened with `openStore` never hands its log out for writing, because a
 * raw append bypasses every store's checks.
 */
export { openLog, WriteAheadLog } from '../log/wal.ts';
export type {
  Durability,
  Log,
  LogLimits,
  LogOptions,
  LogRecord,
  LogStatus,
  Lsn,
  OpenReport,
  PendingRepairReport,
  RecordInput,
  RepairReport,
} from '../log/types.ts';
export type { FileHandle, FileLock, FileStat, FileSystem, OpenMode, OpenOptions } from '../io/types.ts';
