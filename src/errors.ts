/**
 * The one error class of consensus-store. The `code` is the contract (stable, uppercase);
 * messages may change between versions. Never throw a bare Error from library code for a
 * condition a caller can meet: pick a code here.
 */

/** Every stable error code. Adding a code is a minor change; renaming one is breaking. */
export const ErrorCodes = [
  'LOCKED',
  'CLOSED',
  'CORRUPTION',
  'IO_FAILED',
  'DISK_FULL',
  'RECORD_TOO_LARGE',
  'BATCH_TOO_LARGE',
  'QUEUE_FULL',
  'INVALID_ARGUMENT',
  'CONFLICT',
  'NOT_FOUND',
  'UNSUPPORTED_FORMAT',
  'FRESH_SIGN_STATE',
  'WORKER_FAILED',
] as const;

/** A stable error code. */
export type ErrorCode = (typeof ErrorCodes)[number];

/** Where on disk a CORRUPTION was found. */
export interface CorruptionLocation {
  /** Path of the damaged file. */
  readonly file: string;
  /** Byte offset inside that file. */
  readonly offset: number;
}

/**
 * The error every public method rejects or throws with for conditions a caller can meet.
 * `code` is stable; `details` carries structured context (file and offset for CORRUPTION).
 * `message` is the plain message, without the code: print `${err.code}: ${err.message}` to
 * show both. `String(err)` and the first line of `err.stack` read
 * `ConsensusStoreError [CODE]: message`.
 */
export class ConsensusStoreError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** File and offset, present on CORRUPTION errors that have a location. */
  readonly location: CorruptionLocation | undefined;
  /** Extra structured context for logs and tests. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      cause?: unknown;
      location?: CorruptionLocation;
      details?: Readonly<Record<string, unknown>>;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // The stack's first line is formatted from `name` when the stack is first read: read it
    // once under a name that carries the code (what Node does for its own coded errors).
    this.name = `ConsensusStoreError [${code}]`;
    void this.stack;
    this.name = 'ConsensusStoreError';
    this.code = code;
    this.location = options.location;
    this.details = options.details;
  }

  /** `ConsensusStoreError [CODE]: message`. */
  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}`;
  }
}

/** True when `err` is a ConsensusStoreError, optionally with the given code. */
export function isStoreError(err: unknown, code?: ErrorCode): err is ConsensusStoreError {
  return err instanceof ConsensusStoreError && (code === undefined || err.code === code);
}

/** Shorthand for an INVALID_ARGUMENT error naming the argument and what was wrong. */
export function invalidArgument(name: string, problem: string): ConsensusStoreError {
  return new ConsensusStoreError('INVALID_ARGUMENT', `${name} ${problem}`, { details: { argument: name } });
}

/** Shorthand for a CORRUPTION error with its location. */
export function corruption(file: string, offset: number, problem: string): ConsensusStoreError {
  return new ConsensusStoreError('CORRUPTION', `${problem} (file ${file}, offset ${offset})`, {
    location: { file, offset },
  });
}

/** The errno names whose meaning a message can state plainly; any other name is shown as it is. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  EEXIST: 'already exists',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'is a directory',
  ENOENT: 'no such file or directory',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files in the system',
  EDQUOT: 'disk quota exceeded',
};

/** The errno, path and call of a file-system error, for a ConsensusStoreError's `details` (empty when `err` has no errno). */
export function errnoDetails(err: unknown): Readonly<Record<string, unknown>> {
  if (typeof err !== 'object' || err === null) return {};
  const { code, path, syscall } = err as { code?: unknown; path?: unknown; syscall?: unknown };
  if (typeof code !== 'string') return {};
  return { errno: code, ...(typeof path === 'string' ? { path } : {}), ...(typeof syscall === 'string' ? { syscall } : {}) };
}

/**
 * The typed form of a file-system failure (an error carrying a POSIX `code`, as node:fs and the
 * simulated disk throw): DISK_FULL for ENOSPC and EDQUOT, IO_FAILED for every other errno, with
 * the path, the call and the errno in the message and in `details`; `doing` says what the
 * engine was doing ("opening the data directory /d"). A ConsensusStoreError is returned as it
 * is; an error without an errno too (a bug, not a condition of the disk).
 */
export function fromFsError(err: unknown, doing: string): unknown {
  if (err instanceof ConsensusStoreError) return err;
  if (typeof err !== 'object' || err === null) return err;
  const errno = (err as { code?: unknown }).code;
  if (typeof errno !== 'string' || !/^E[A-Z0-9]+$/.test(errno)) return err;
  const path = (err as { path?: unknown }).path;
  const syscall = (err as { syscall?: unknown }).syscall;
  const where = typeof path === 'string' ? ` (${typeof syscall === 'string' ? `${syscall} ` : ''}${path})` : '';
  const text = ERRNO_TEXT[errno] ?? errno;
  const details = errnoDetails(err);
  const full = errno === 'ENOSPC' || errno === 'EDQUOT';
  const message = `${doing}: ${full ? 'no space left on device' : text}${errno === text ? '' : ` [${errno}]`}${where}`;
  return new ConsensusStoreError(full ? 'DISK_FULL' : 'IO_FAILED', message, { cause: err, details });
}
