/**
 * Runs the ByzantineEvidenceStore conformance suite on the in-memory log. The WAL backend runs
 * the same suite from its own test file once the engine is wired into openStore.
 */
import { memoryEvidenceHarness } from '../support/evidence-test-log.ts';
import { evidenceStoreConformance } from './evidence-store.conformance.ts';

evidenceStoreConformance('memory log', () => memoryEvidenceHarness());
