/**
 * The line protocol between the kill parent and its writer child (stdout, one line each):
 *   loaded                                   modules loaded; waiting for `go` on stdin
 *   open <height> <round>                    store open; continuing after this height and round
 *   v <validator> <height> <round> <type> <hash|nil> <lsn>    a vote's append resolved
 *   r <height> <round> <phase> <updatedAt> <lsn>              a round-state save resolved
 *   s <height> <round> <type> <hash> <timestamp> <signature>  the sign guard released a signature
 *   c <cut height> <segments released>                        a compaction resolved (for the tally)
 * Every `v`, `r`, `s` line is written only after the promise resolved (acknowledged).
 *
 * It must never carry anything the parent cannot check against the reopened store.
 */
import { keyOf, OWN_ID } from '../keys.ts';

/** The child's store options (shared, so that parent and child open alike). */
export const KILL_SEGMENT_SIZE = 64 * 1024;
/**
 * Bounded history in the child and in the parent's reopen (docs/stores.md, "Bounded history"):
 * a small window, so that compactions (background ones every 2 finalized heights, and the
 * child's own `compact()` calls) run all the time and SIGKILLs land inside them.
 */
export const KILL_RETENTION = { hotHeights: 4, compactEvery: 2 } as const;
/**
 * No automatic snapshots (the kill runs never reached the default 1,000 heights): the compactor
 * keeps hot what they would read, which with the default is everything.
 */
export const KILL_SNAPSHOTS = { interval: 0 } as const;
/** Share of heights after which the child calls `store.compact()` (not awaited: writes go on). */
export const KILL_COMPACT_SHARE = 0.3;

/** Validators (besides the node) voting at every height. */
export const KILL_VALIDATORS = 16;

/** The node identity every child signs with. */
export function killIdentity(): { privateKey: Uint8Array; validatorId: string } {
  return { privateKey: keyOf(OWN_ID).privateKey, validatorId: OWN_ID };
}

/** A parsed acknowledgement line. */
export type AckLine =
  | { readonly tag: 'v'; readonly validatorId: string; readonly height: number; readonly round: number; readonly voteType: string; readonly hash: string; readonly lsn: number }
  | { readonly tag: 'r'; readonly height: number; readonly round: number; readonly phase: string; readonly updatedAt: number; readonly lsn: number }
  | { readonly tag: 's'; readonly height: number; readonly round: number; readonly voteType: string; readonly hash: string; readonly timestamp: number; readonly signature: string }
  | { readonly tag: 'open'; readonly height: number; readonly round: number }
  | { readonly tag: 'c'; readonly cutHeight: number; readonly released: number }
  | { readonly tag: 'loaded' };

/** Parses one line; undefined for anything else (a torn last line of a killed child included). */
export function parseAck(line: string): AckLine | undefined {
  const f = line.trim().split(' ');
  const n = (i: number): number => Number(f[i]);
  switch (f[0]) {
    case 'loaded':
      return { tag: 'loaded' };
    case 'open':
      return f.length === 3 ? { tag: 'open', height: n(1), round: n(2) } : undefined;
    case 'v':
      return f.length === 7 ? { tag: 'v', validatorId: f[1]!, height: n(2), round: n(3), voteType: f[4]!, hash: f[5]!, lsn: n(6) } : undefined;
    case 'r':
      return f.length === 6 ? { tag: 'r', height: n(1), round: n(2), phase: f[3]!, updatedAt: n(4), lsn: n(5) } : undefined;
    case 'c':
      return f.length === 3 ? { tag: 'c', cutHeight: n(1), released: n(2) } : undefined;
    case 's':
      return f.length === 7 && f[6]!.length === 128 ? { tag: 's', height: n(1), round: n(2), voteType: f[3]!, hash: f[4]!, timestamp: n(5), signature: f[6]! } : undefined;
    default:
      return undefined;
  }
}
