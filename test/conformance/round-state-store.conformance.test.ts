/**
 * Runs the RoundStateStore conformance suite on the in-memory log. The WAL backend runs the same
 * suite from its own test file once the engine exists.
 */
import { memoryRoundHarness } from '../support/round-test-log.ts';
import { roundStateStoreConformance } from './round-state-store.conformance.ts';

roundStateStoreConformance('memory log', () => memoryRoundHarness());
