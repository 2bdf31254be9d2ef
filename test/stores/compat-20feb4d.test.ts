/**
 * A data directory written by the version at commit 20feb4d (before the clean end, the sign
 * guard's second copy, the layer moves and the grouped options) opens with this version and
 * answers every question the same: votes of every round, the sign guard's watermark, the latest
 * round state, the validator set, the audit chain (which verifies), evidence, rewards and
 * finality marks. Then it goes on: it signs above its watermark, refuses a conflict, and reopens.
 *
 * The fixture (test/fixtures/dir-20feb4d/: the files gzipped, the answers that version gave,
 * and the script that wrote both) was made by running that script in a checkout of 20feb4d.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type ConsensusStore } from '../../src/store.ts';
import { privateKeyFor, signedVote } from '../../src/testing/conformance/fixtures.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'dir-20feb4d');
const FILES = ['MANIFEST', 'wal/0000000000000001.wal', 'wal/0000000000000002.wal'];
const chainId = 'evidence-test-chain';
const signer = { privateKey: privateKeyFor('val-1'), validatorId: 'val-1' };
const nodeKey = { privateKey: new Uint8Array(32).fill(42) };
const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cstore-compat-'));
  for (const f of FILES) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), gunzipSync(readFileSync(join(FIXTURE, `${f}.gz`))));
  }
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function open(): Promise<ConsensusStore> {
  return openStore({ dir, chainId, signer, audit: { nodeKey }, log: { segmentSize: 65536 } });
}

describe('a directory written by 20feb4d', () => {
  it('opens and answers exactly as that version did', async () => {
    const expected = JSON.parse(readFileSync(join(FIXTURE, 'answers.json'), 'utf8')) as Record<string, unknown>;
    const store = await open();
    const votesPerRound = [];
    for (let r = 1; r <= 12; r++) {
      votesPerRound.push(
        (await store.votes.getVotesForRound(r)).map((e) => ({
          id: e.id,
          validatorId: e.vote.validatorId,
          voteType: e.vote.voteType,
          height: e.vote.height,
          blockHash: hex(e.vote.blockHash),
          signature: hex(e.vote.signature),
        })),
      );
    }
    const set = await store.validators.getValidatorsAtHeight(6);
    const actual = {
      votesPerRound,
      watermark: store.signGuard.watermark(),
      latestRound: (await store.rounds.loadRoundState())?.state,
      validatorsAt6: set.validators.map((v) => ({ validatorId: v.validatorId, stake: String(v.stake), status: v.status })),
      auditSize: store.audit.size,
      auditHead: store.audit.head === undefined ? null : { treeSize: store.audit.head.treeSize, root: hex(store.audit.head.root) },
      offenses: await store.evidence.getOffenseCount('val-3'),
      evidenceSize: store.evidence.size,
      totalAt12: String(await store.rewards.getTotalDistributed(12)),
      lastFinalized: (await store.votes.getLastFinalized()) ?? null,
      nextLsn: store.log.nextLsn,
    };
    expect(JSON.parse(JSON.stringify(actual))).toEqual(expected);
    expect((await store.audit.verifyIntegrity()).ok).toBe(true);
    expect(store.log.openReport.tornBytesCut).toBe(0);
    await store.close();
  });

  it('goes on from there: signs above its watermark, refuses a conflict at it, and reopens with both', async () => {
    const store = await open();
    const watermark = store.signGuard.watermark();
    expect(watermark).toEqual({ height: 12, round: 12, step: 'prevote' });
    await expect(
      store.signGuard.signVote({ validatorId: 'val-1', height: 12, round: 12, voteType: 'prevote', blockHash: new Uint8Array(32).fill(77), timestamp: 1 }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    const next = await store.signGuard.signVote({ validatorId: 'val-1', height: 13, round: 13, voteType: 'prevote', blockHash: new Uint8Array(32).fill(13), timestamp: 2 });
    await store.votes.appendVote(next);
    await store.votes.appendVote(signedVote('val-2', { height: 13, round: 13, hash: 13 }));
    await store.close();
    const again = await open();
    expect(again.signGuard.watermark()).toEqual({ height: 13, round: 13, step: 'prevote' });
    expect((await again.votes.getVotesForRound(13)).length).toBe(2);
    expect((await again.audit.verifyIntegrity()).ok).toBe(true);
    await again.close();
  });
});
