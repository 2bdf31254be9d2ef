// What a call did, as one value: the error it threw or rejected with, or an Error saying that
// it resolved or returned. The shared first step of the tests that expect a typed error.

/** Calls `call`; resolves with its thrown or rejected error, else with Error('resolved') or Error('returned'). */
export async function outcomeOf(call: () => unknown): Promise<unknown> {
  try {
    const result = call();
    return result instanceof Promise ? await result.then(() => new Error('resolved'), (e: unknown) => e) : new Error('returned');
  } catch (err) {
    return err;
  }
}
