/**
 * cstore's exit codes and its one error format. Every failure a user can cause prints exactly
 * one line on stderr, `error CODE: message` (the code once, no stack), and exits with the code's
 * number below; only a bug (an error that is neither a store error, a usage error nor an errno
 * error) prints a stack, with exit code 70. docs/operations.md lists them.
 */
import { isStoreError, type ErrorCode } from '../errors.ts';
import { errnoOf } from '../io/types.ts';

/** The exit codes (stable; documented in docs/operations.md). */
export const Exit = {
  /** Done, every check held. */
  OK: 0,
  /** A check failed that is not damage (a chain id mismatch, a failed recovery check). */
  CHECK_FAILED: 1,
  /** Damage found: CORRUPTION (file and offset), a broken audit chain. */
  DAMAGE: 2,
  /** The store refused: CONFLICT (a watermark going backwards), FRESH_SIGN_STATE. */
  REFUSED: 3,
  /** Bad command line or input: unknown command or option, a malformed file (INVALID_ARGUMENT). */
  USAGE: 64,
  /** A file of a format version this build does not read (UNSUPPORTED_FORMAT). */
  UNSUPPORTED: 65,
  /** No such data directory or file (NOT_FOUND). */
  NOT_FOUND: 66,
  /** A bug: an unexpected error (its stack is printed). */
  INTERNAL: 70,
  /** An I/O error: IO_FAILED, DISK_FULL, WORKER_FAILED, or an errno error (EACCES, EIO, ...). */
  IO: 74,
  /** Another process holds the directory's lock (LOCKED): stop the node first. */
  LOCKED: 75,
} as const;

/** A usage error: printed as `error USAGE: message`, exit 64. */
export class UsageError extends Error {}

/** An error with a CLI code that is not a store code (e.g. a failed check reported as an error). */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const BY_STORE_CODE: Readonly<Record<ErrorCode, number>> = {
  LOCKED: Exit.LOCKED,
  CLOSED: Exit.INTERNAL,
  CORRUPTION: Exit.DAMAGE,
  IO_FAILED: Exit.IO,
  DISK_FULL: Exit.IO,
  RECORD_TOO_LARGE: Exit.USAGE,
  BATCH_TOO_LARGE: Exit.USAGE,
  QUEUE_FULL: Exit.IO,
  INVALID_ARGUMENT: Exit.USAGE,
  CONFLICT: Exit.REFUSED,
  NOT_FOUND: Exit.NOT_FOUND,
  UNSUPPORTED_FORMAT: Exit.UNSUPPORTED,
  FRESH_SIGN_STATE: Exit.REFUSED,
  WORKER_FAILED: Exit.IO,
};

/** What to print and which exit code, for an error that reached the top. */
export interface Failure {
  /** `error CODE: message`, or a stack for a bug. */
  readonly text: string;
  readonly exitCode: number;
  /** The code printed (USAGE, NOT_FOUND, ...; INTERNAL for a bug). */
  readonly code: string;
}

/** Classifies `err` (see the file comment). */
export function failureOf(err: unknown): Failure {
  if (err instanceof UsageError) return line('USAGE', err.message, Exit.USAGE);
  if (err instanceof CliError) return line(err.code, err.message, err.exitCode);
  if (isStoreError(err)) return line(err.code, err.message, BY_STORE_CODE[err.code] ?? Exit.INTERNAL);
  const errno = errnoOf(err);
  if (errno !== undefined && err instanceof Error) {
    const path = (err as { path?: unknown }).path;
    const where = typeof path === 'string' ? ` (${path})` : '';
    if (errno === 'ENOENT') return line('NOT_FOUND', `no such file or directory${where}`, Exit.NOT_FOUND);
    if (errno === 'ENOTDIR') return line('NOT_FOUND', `not a directory${where}`, Exit.NOT_FOUND);
    if (errno === 'EACCES' || errno === 'EPERM') return line('IO_FAILED', `permission denied${where}`, Exit.IO);
    if (errno === 'ENOSPC') return line('DISK_FULL', `no space left on device${where}`, Exit.IO);
    if (/^E[A-Z]+$/.test(errno)) return line('IO_FAILED', `${errno}${where}: ${err.message}`, Exit.IO);
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { text: `error INTERNAL: an unexpected error (a bug in cstore; please report it):\n${stack}`, exitCode: Exit.INTERNAL, code: 'INTERNAL' };
}

function line(code: string, message: string, exitCode: number): Failure {
  // A message that already starts with its code (an old habit of some callers) is not doubled.
  const prefix = `${code}: `;
  const text = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  return { text: `error ${code}: ${text.replace(/\n/g, ' ')}`, exitCode, code };
}
