/**
 * Runs the SignGuard conformance suite on every backend: the write-ahead log through
 * `openStore` on real files in a temporary directory and on the simulated disk, and the
 * in-memory log through `openStoreOnLog` (test/support/store-backends.ts). Each reopen closes the
 * store and opens the same directory or disk again with the sign options the suite asks for.
 */
import type { ConsensusStore } from '../../src/store.ts';
import { memoryBackend, walBackends, type StoreMedium, type StoreOverrides } from '../support/store-backends.ts';
import { SIGN_IDENTITY, signGuardConformance, type SignGuardHarness, type SignOpenOptions } from '../../src/testing/conformance/sign-guard.conformance.ts';

const CHAIN = 'sign-guard-chain';

/** The suite's sign options as `openStore` options (without an identity there is no signer, and the rest means nothing). */
function signOptions(o: SignOpenOptions): StoreOverrides {
  if (o.withIdentity === false) return {};
  return {
    signer: {
      ...SIGN_IDENTITY,
      ...(o.state === undefined ? {} : { state: o.state }),
      ...(o.allowFreshState === undefined ? {} : { allowFreshState: o.allowFreshState }),
      ...(o.importWatermark === undefined ? {} : { importWatermark: o.importWatermark }),
    },
  };
}

function signHarness(medium: StoreMedium, store: ConsensusStore): SignGuardHarness {
  const reopenWith = async (options: SignOpenOptions): Promise<SignGuardHarness> => {
    await store.close();
    return signHarness(medium, await medium.open(signOptions(options)));
  };
  return {
    guard: store.signGuard,
    chainId: CHAIN,
    nextLsn: () => store.log.nextLsn,
    reopen: () => reopenWith({}),
    reopenWith,
    close: () => store.close(),
  };
}

for (const backend of [...walBackends(CHAIN, 'sign-guard'), memoryBackend(CHAIN)]) {
  signGuardConformance(`openStore, ${backend.name}`, async (options) => {
    const medium = backend.medium();
    return signHarness(medium, await medium.open(signOptions(options)));
  });
}
