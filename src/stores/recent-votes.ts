/**
 * The order option of `VoteStore.getRecentVotes` (docs/stores.md, "Votes"): the same most recent
 * votes, newest first (the default, highest LSN first) or chronological (lowest LSN first, the
 * specification's order). Shared by every backend, so each checks the option the same way.
 *
 * It must never change which votes are returned, only their order.
 */
import { checkOneOf } from '../model/check.ts';
import { checkQuery } from './context.ts';
import type { RecentVotesOrder } from './vote-types.ts';

/** The orders `getRecentVotes` answers in; the first is the default. */
export const RECENT_VOTES_ORDERS: readonly RecentVotesOrder[] = ['newest-first', 'chronological'];

/**
 * The order `options` of `getRecentVotes` asks for ('newest-first' when absent).
 * @throws ConsensusStoreError INVALID_ARGUMENT on a non-object, an unknown key or an unknown order.
 */
export function parseRecentVotesOrder(options: unknown): RecentVotesOrder {
  const o = checkQuery('options', options, ['order']);
  return o['order'] === undefined ? 'newest-first' : checkOneOf('options.order', o['order'], RECENT_VOTES_ORDERS);
}

/** `newestFirst` (reversed in place) in `order`. */
export function inRecentOrder<T>(newestFirst: T[], order: RecentVotesOrder): T[] {
  return order === 'chronological' ? newestFirst.reverse() : newestFirst;
}
