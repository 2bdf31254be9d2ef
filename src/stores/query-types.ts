/**
 * The one query convention of the stores (docs/stores-rounds-validators.md, "Queries"): a height
 * range is `{ startHeight?, endHeight?, limit? }`, a round range `{ startRound?, endRound?,
 * limit? }`, both ends inclusive; a query object with a key it does not know is
 * INVALID_ARGUMENT; a list cut by its limit says so (`truncated: true`). The parsing lives in
 * context.ts (`parseHeightRange`, `parseRoundRange`, `parseLimit`, `takePage`). Plain data
 * only: no behaviour, no I/O here.
 */

/** A height range, both ends inclusive (absent: from 0, to 2^53 - 1), and the most results wanted. */
export interface HeightRangeQuery {
  readonly startHeight?: number;
  readonly endHeight?: number;
  /** At most this many results; each query names its default and its maximum. */
  readonly limit?: number;
}

/** A round range, both ends inclusive (absent: from 0, to 2^32 - 1), and the most results wanted. */
export interface RoundRangeQuery {
  readonly startRound?: number;
  readonly endRound?: number;
  /** At most this many results; each query names its default and its maximum. */
  readonly limit?: number;
}

/**
 * What a list query returns: the results in the query's order, at most its `limit`, and whether
 * more matched (`truncated: true`: ask again from after the last item to read on).
 */
export interface QueryPage<T> {
  readonly items: readonly T[];
  /** True when more results matched than `items` holds (the list stopped at `limit`). */
  readonly truncated: boolean;
}
