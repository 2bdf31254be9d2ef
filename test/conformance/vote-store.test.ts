// Runs the VoteStore conformance suite on every backend we have: the in-memory log, and the
// real write-ahead log in a temporary directory (through openStore, so the wiring is covered).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openStore, openStoreOnLog } from '../../src/store.ts';
import type { ConsensusStore } from '../../src/store.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import { voteStoreConformance } from '../../src/testing/conformance/vote-store.conformance.ts';
import type { VoteStoreFixture } from '../../src/testing/conformance/vote-store.conformance.ts';

const chainId = 'conformance-chain';
let clock = 1_800_000_000_000;
const now = (): number => clock++;

function fixtureOf(store: ConsensusStore, reopen: () => Promise<ConsensusStore>): VoteStoreFixture {
  return {
    votes: store.votes,
    nextLsn: () => store.log.nextLsn,
    reopen: async () => {
      await store.close();
      return fixtureOf(await reopen(), reopen);
    },
    close: () => store.close(),
  };
}

voteStoreConformance('in-memory log', async () => {
  const disk = new MemoryDisk();
  // The suite's votes carry fake signatures (it tests storage semantics): stored unverified
  // (docs/stores.md, "Vote verification").
  const open = (): Promise<ConsensusStore> => openStoreOnLog(MemoryLog.open(disk), { chainId, now, voteVerification: 'off' });
  return fixtureOf(await open(), open);
});

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

voteStoreConformance('write-ahead log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cstore-votes-'));
  dirs.push(dir);
  const open = (): Promise<ConsensusStore> => openStore({ dir, chainId, now, voteVerification: 'off', log: { segmentSize: 1024 * 1024 } });
  return fixtureOf(await open(), open);
});
