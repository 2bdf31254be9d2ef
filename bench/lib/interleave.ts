/**
 * Interleaving of systems across repetitions: in repetition r every system runs once, in an
 * order rotated by r, so that no system always runs first (warm caches, a quiet disk) or last,
 * and a slow minute on a shared machine lands on every system alike.
 *
 * Must never: run all repetitions of one system before the next system starts.
 */

/** A system to time: `run` performs one repetition and resolves with its result. */
export interface Contender<T> {
  readonly name: string;
  readonly run: (rep: number) => Promise<T>;
}

/**
 * Runs `reps` repetitions of every contender, interleaved and rotated; resolves with each
 * contender's results in repetition order, keyed by name. `between` runs after every single
 * run (a pause to let background work settle, a progress dot).
 */
export async function interleave<T>(
  reps: number,
  contenders: readonly Contender<T>[],
  between?: () => Promise<void>,
): Promise<Map<string, T[]>> {
  const results = new Map<string, T[]>(contenders.map((c) => [c.name, []]));
  for (let rep = 0; rep < reps; rep++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + rep) % contenders.length];
      if (c === undefined) continue;
      const value = await c.run(rep);
      results.get(c.name)?.push(value);
      if (between !== undefined) await between();
    }
  }
  return results;
}
