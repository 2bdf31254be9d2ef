/**
 * Runs the ByzantineEvidenceStore conformance suite on the in-memory log. The WAL run (through
 * openStore on the simulated disk, keys from the registry) is in accountability-stores.test.ts.
 */
import { memoryEvidenceHarness } from '../support/evidence-test-log.ts';
import { evidenceStoreConformance } from '../../src/testing/conformance/evidence-store.conformance.ts';

evidenceStoreConformance('memory log', () => memoryEvidenceHarness());
