/**
 * Runs the ValidatorRegistry conformance suite on every backend: the in-memory log (the registry
 * on its own), and the write-ahead log through `openStore` on real files in a temporary
 * directory and on the simulated disk (test/support/store-backends.ts). The suite's reopen cases
 * close the store and open the same directory or disk again.
 */
import { freshHarness, walBackends } from '../support/store-backends.ts';
import { memoryRegistryHarness, testPublicKey } from '../support/round-test-log.ts';
import { validatorRegistryConformance, type ValidatorRegistryHarness } from '../../src/testing/conformance/validator-registry.conformance.ts';

validatorRegistryConformance('memory log', () => memoryRegistryHarness(), testPublicKey);

for (const backend of walBackends('registry-chain', 'registry')) {
  validatorRegistryConformance(
    `openStore, ${backend.name}`,
    () => freshHarness<ValidatorRegistryHarness>(backend, (s) => ({ registry: s.validators })),
    testPublicKey,
  );
}
