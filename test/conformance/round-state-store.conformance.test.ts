/**
 * Runs the RoundStateStore conformance suite on every backend: the in-memory log (the store on
 * its own), and the write-ahead log through `openStore` on real files in a temporary directory
 * and on the simulated disk (test/support/store-backends.ts). The suite's reopen cases close the
 * store and open the same directory or disk again.
 */
import { freshHarness, walBackends } from '../support/store-backends.ts';
import { memoryRoundHarness } from '../support/round-test-log.ts';
import { roundStateStoreConformance, type RoundStateHarness } from '../../src/testing/conformance/round-state-store.conformance.ts';

roundStateStoreConformance('memory log', () => memoryRoundHarness());

for (const backend of walBackends('round-state-chain', 'rounds')) {
  roundStateStoreConformance(`openStore, ${backend.name}`, () => freshHarness<RoundStateHarness>(backend, (s) => ({ rounds: s.rounds })));
}
