/**
 * Runs the ValidatorRegistry conformance suite on the in-memory log. The WAL backend runs the
 * same suite from its own test file once the engine exists.
 */
import { memoryRegistryHarness, testPublicKey } from '../support/round-test-log.ts';
import { validatorRegistryConformance } from './validator-registry.conformance.ts';

validatorRegistryConformance('memory log', () => memoryRegistryHarness(), testPublicKey);
