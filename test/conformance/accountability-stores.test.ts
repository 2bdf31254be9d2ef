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
import { auditLogConformance, type AuditHarness } from './audit-log.conformance.ts';
import { evidenceStoreConformance, type EvidenceHarness } from './evidence-store.conformance.ts';
import { rewardHistoryConformance, type RewardHistoryHarness } from './reward-history.conformance.ts';

const DIR = '/data';
const SEGMENT_SIZE = 1024 * 1024;

/** Opens the store on `disk` (fresh when new) under `chainId`, with a fixed node key and a ticking clock. */
function opener(chainId: string): (disk: SimulatedDisk) => Promise<ConsensusStore> {
  let clock = 1_700_000_000_000;
  return (disk) => openStore({ dir: DIR, fs: disk.fs(), chainId, nodeKey: nodeKey(7), now: () => clock++, log: { segmentSize: SEGMENT_SIZE } });
}

let seed = 100;

function auditHarness(store: ConsensusStore, disk: SimulatedDisk, open: (disk: SimulatedDisk) => Promise<ConsensusStore>): AuditHarness {
  return {
    audit: store.audit,
    publicKey: store.audit.publicKey,
    fs: disk.fs(),
    nextLsn: () => store.log.nextLsn,
    reopen: async () => {
      await store.close();
      return auditHarness(await open(disk), disk, open);
    },
    close: () => store.close(),
  };
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

function evidenceHarness(store: ConsensusStore, disk: SimulatedDisk, open: (disk: SimulatedDisk) => Promise<ConsensusStore>): EvidenceHarness {
  return {
    store: store.evidence,
    chainId: TEST_CHAIN_ID,
    nextLsn: () => store.log.nextLsn,
    reopen: async () => {
      await store.close();
      return evidenceHarness(await open(disk), disk, open);
    },
    close: () => store.close(),
  };
}

evidenceStoreConformance('openStore, WAL on the simulated disk, keys from the registry', async () => {
  const disk = new SimulatedDisk({ seed: seed++ });
  const open = opener(TEST_CHAIN_ID);
  const store = await open(disk);
  // The fixture's key book (test/support/evidence-test-log.ts): val-1..4 from height 0, val-late from 100.
  for (const id of ['val-1', 'val-2', 'val-3', 'val-4']) {
    await store.validators.registerValidator({ id, publicKey: publicKeyOf(privateKeyFor(id)), stake: 100n }, 0);
  }
  await store.validators.registerValidator({ id: 'val-late', publicKey: publicKeyOf(privateKeyFor('val-late')), stake: 100n }, 100);
  return evidenceHarness(store, disk, open);
});

function rewardHarness(store: ConsensusStore, disk: SimulatedDisk, open: (disk: SimulatedDisk) => Promise<ConsensusStore>): RewardHistoryHarness {
  return {
    history: store.rewards,
    nextLsn: () => store.log.nextLsn,
    reopen: async () => {
      await store.close();
      return rewardHarness(await open(disk), disk, open);
    },
    close: () => store.close(),
  };
}

rewardHistoryConformance('openStore, WAL on the simulated disk', async () => {
  const disk = new SimulatedDisk({ seed: seed++ });
  const open = opener('reward-chain');
  return rewardHarness(await open(disk), disk, open);
});
