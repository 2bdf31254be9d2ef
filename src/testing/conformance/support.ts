/**
 * What the conformance suites share: the harness shape every backend factory returns, the
 * open-run-close wrapper each scenario runs in, the store error check, the "every bad input is
 * INVALID_ARGUMENT and writes nothing" property, and the pieces those properties are built from.
 *
 * Nothing here knows a particular store: each suite keeps its own scenarios and its own junk.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { isStoreError } from '../../errors.ts';
import type { ErrorCode } from '../../errors.ts';

/** What every harness offers besides its store: write detection, reopen and close. */
export interface StoreHarness<Self> {
  /** The position of the next write; unchanged across a call means the call wrote nothing. */
  nextLsn(): number;
  /** Closes this store and opens a new one on the same data. */
  reopen(): Promise<Self>;
  close(): Promise<void>;
}

/**
 * The wrapper each scenario runs in: opens a fresh harness, runs `body`, and closes the harness
 * `body` returns (the one it reopened into), or the one it was given.
 */
export function harnessRunner<H extends StoreHarness<H>>(open: () => Promise<H>): (body: (h: H) => Promise<H | void>) => Promise<void> {
  return async (body) => {
    const h = await open();
    const last = (await body(h)) ?? h;
    await last.close();
  };
}

/** Expects `promise` to reject with a ConsensusStoreError of `code`. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err: unknown = await promise.then(
    () => new Error(`expected ${code}, but it resolved`),
    (e: unknown) => e,
  );
  if (!isStoreError(err, code)) throw err instanceof Error ? err : new Error(String(err));
}

/**
 * Values of wrong types and out-of-range numbers for the bad-input properties: the ones every
 * suite uses, with the suite's own `extra` values between them, and byte arrays up to `maxBytes`.
 */
export function junkWith(extra: readonly fc.Arbitrary<unknown>[], maxBytes: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.constant(-1),
    fc.constant(0.5),
    fc.constant(Number.NaN),
    fc.constant(2 ** 53),
    ...extra,
    fc.boolean(),
    fc.uint8Array({ maxLength: maxBytes }),
    fc.array(fc.integer(), { maxLength: 2 }),
    fc.object({ maxDepth: 1 }),
  );
}

/** Calls `target[method](...args)`, turning a synchronous throw (or a missing method) into a rejection. */
export function callMethod(target: object, method: string, args: readonly unknown[]): Promise<unknown> {
  const methods = target as Record<string, (...a: unknown[]) => Promise<unknown>>;
  try {
    return (methods[method] as (...a: unknown[]) => Promise<unknown>).apply(target, [...args]);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * The bad-input property: for every input `inputs` draws, `run(input)` rejects INVALID_ARGUMENT.
 * With `nextLsn`, each call is also checked to write nothing; without it, the caller checks the
 * log once, after the property.
 */
export async function expectEveryInvalid<T>(
  inputs: fc.Arbitrary<T>,
  run: (input: T) => Promise<unknown>,
  nextLsn: (() => number) | undefined,
  params: fc.Parameters<[T]>,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(inputs, async (input) => {
      if (nextLsn === undefined) {
        await expectCode(run(input), 'INVALID_ARGUMENT');
        return;
      }
      const lsn = nextLsn();
      await expectCode(run(input), 'INVALID_ARGUMENT');
      expect(nextLsn()).toBe(lsn);
    }),
    params,
  );
}

/** The seed of a property: from `envVar` when set, else the clock; printed so a failure can be replayed. */
export function propertySeed(envVar: string, label: string): number {
  const seed = Number(process.env[envVar] ?? Date.now() % 2 ** 31);
  console.log(`${label} seed ${seed} (replay with ${envVar}=${seed})`);
  return seed;
}
