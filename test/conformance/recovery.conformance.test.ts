/**
 * Runs the RecoveryManager conformance suite on every backend: the write-ahead log through
 * `openStore` on real files in a temporary directory and on the simulated disk, and the
 * in-memory log through `openStoreOnLog` (test/support/store-backends.ts). Each reopen closes the
 * store and opens the same directory or disk again, so `recover()` answers from a replayed log.
 */
import { freshHarness, memoryBackend, walBackends } from '../support/store-backends.ts';
import { recoveryConformance, recoveryVoteKey, type RecoveryHarness } from '../../src/testing/conformance/recovery.conformance.ts';

const CHAIN = 'recovery-chain';

for (const backend of [...walBackends(CHAIN, 'recovery'), memoryBackend(CHAIN)]) {
  recoveryConformance(`openStore, ${backend.name}`, () =>
    // The suite's votes are really signed: verified against its key book.
    freshHarness<RecoveryHarness>(backend, (s) => ({ recovery: s.recovery, rounds: s.rounds, votes: s.votes, chainId: CHAIN }), { voteVerification: { publicKeyOf: recoveryVoteKey } }),
  );
}
