/**
 * Runs the RewardHistory conformance suite on the in-memory log. The WAL run (through openStore
 * on the simulated disk) is in accountability-stores.test.ts.
 */
import { memoryRewardHarness } from '../support/evidence-test-log.ts';
import { rewardHistoryConformance } from '../../src/testing/conformance/reward-history.conformance.ts';

rewardHistoryConformance('memory log', () => memoryRewardHarness());
