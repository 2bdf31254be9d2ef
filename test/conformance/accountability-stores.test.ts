// Runs the AuditLog, ByzantineEvidenceStore and RewardHistory conformance suites on the stores
// `openStore` returns, over the real write-ahead log on the simulated disk (so the wiring is
// covered: one log, one replay pass, the node key, evidence keys from the validator registry).
// The in-memory runs are in each suite's own test file.
//
// The audit suite runs twice: through `openStore` (a fixed node key, entry 0 NodeKeyRecorded
// written at open), and through `openStoreOnLog` over the WAL without a node key (the process's
// ephemeral key, whose entry 0 comes with the first audit batch). The suite's expectations are
// relative to the chain it is given, so both hold.
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { openLog } from '../../src/log/wal.ts';
import { openStore, openStoreOnLog, type ConsensusStore } from '../../src/store.ts';
import { AUDIT_CHAIN, nodeKey } from '../support/audit-test-log.ts';
import { privateKeyFor, TEST_CHAIN_ID } from '../support/evidence-test-log.ts';
import { storeHarness } from '../support/store-backends.ts';
import { auditLogConformance, type AuditHarness } from '../../src/testing/conformance/audit-log.conformance.ts';
import { evidenceStoreConformance, type EvidenceHarness } from '../../src/testing/conformance/evidence-store.conformance.ts';
import { rewardHistoryConformance, type RewardHistoryHarness } from '../../src/testing/conformance/reward-history.conformance.ts';

const DIR = '/data';
const SEGMENT_SIZE = 1024 * 1024;

/** Opens the store on a disk: fresh the first time, the same data again on a reopen. */
type Opener = (disk: SimulatedDisk) => Promise<ConsensusStore>;

/** Opens the store on `disk` (fresh when new) under `chainId`, with a fixed node key and a ticking clock. */
function opener(chainId: string): Opener {
  let clock = 1_700_000_000_000;
  return (disk) => openStore({ dir: DIR, fs: disk.fs(), chainId, audit: { nodeKey: nodeKey(7) }, now: () => clock++, log: { segmentSize: SEGMENT_SIZE } });
}

let seed = 100;

function auditHarness(store: ConsensusStore, disk: SimulatedDisk, open: Opener): AuditHarness {
  return storeHarness<AuditHarness>(store, () => open(disk), (s) => ({ audit: s.audit, publicKey: s.audit.publicKey, fs: disk.fs() }));
}

auditLogConformance('openStore, WAL on the simulated disk (entry 0 written at open)', async () => {
  const disk = new SimulatedDisk({ seed: seed++ });
  const open = opener(AUDIT_CHAIN);
  const store = await open(disk);
  return auditHarness(store, disk, open);
});

auditLogConformance('openStoreOnLog, WAL on the simulated disk', async () => {
  const disk = new SimulatedDisk({ seed: seed++ });
  let clock = 1_700_000_000_000;
  const open = async (d: SimulatedDisk): Promise<ConsensusStore> => {
    const fs = d.fs();
    const log = await openLog({ dir: DIR, fs, segmentSize: SEGMENT_SIZE });
    return openStoreOnLog(log, { chainId: AUDIT_CHAIN, fs, now: () => clock++ });
  };
  return auditHarness(await open(disk), disk, open);
});

function evidenceHarness(store: ConsensusStore, disk: SimulatedDisk, open: Opener): EvidenceHarness {
  return storeHarness<EvidenceHarness>(store, () => open(disk), (s) => ({ store: s.evidence, chainId: TEST_CHAIN_ID }));
}

evidenceStoreConformance('openStore, WAL on the simulated disk, keys from the registry', async () => {
  const disk = new SimulatedDisk({ seed: seed++ });
  const open = opener(TEST_CHAIN_ID);
  const store = await open(disk);
  // The fixture's key book (test/support/evidence-test-log.ts): val-1..4 from height 0, val-late from 100.
  for (const id of ['val-1', 'val-2', 'val-3', 'val-4']) {
    await store.validators.registerValidator({ validatorId: id, publicKey: publicKeyOf(privateKeyFor(id)), stake: 100n }, 0);
  }
  await store.validators.registerValidator({ validatorId: 'val-late', publicKey: publicKeyOf(privateKeyFor('val-late')), stake: 100n }, 100);
  return evidenceHarness(store, disk, open);
});

function rewardHarness(store: ConsensusStore, disk: SimulatedDisk, open: Opener): RewardHistoryHarness {
  return storeHarness<RewardHistoryHarness>(store, () => open(disk), (s) => ({ history: s.rewards }));
}

rewardHistoryConformance('openStore, WAL on the simulated disk', async () => {
  const disk = new SimulatedDisk({ seed: seed++ });
  const open = opener('reward-chain');
  return rewardHarness(await open(disk), disk, open);
});
