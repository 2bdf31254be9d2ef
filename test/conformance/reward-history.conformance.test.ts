/**
 * Runs the RewardHistory conformance suite on the in-memory log. The WAL backend runs the same
 * suite from its own test file once the engine is wired into openStore.
 */
import { memoryRewardHarness } from '../support/evidence-test-log.ts';
import { rewardHistoryConformance } from './reward-history.conformance.ts';

rewardHistoryConformance('memory log', () => memoryRewardHarness());
