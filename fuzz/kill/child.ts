/**
 * The kill fuzzer's writer child: waits for `go`, opens the store in `--dir` on the real file
 * system, and writes heights until it is killed: per height a round-state checkpoint per
 * phase, the node's own prevote and precommit through the sign guard, and every validator's
 * votes, all appended concurrently (group commit batches them), then the height's finalization
 * mark. With a small retention window it compacts in the background and, at seeded moments,
 * calls `store.compact()` while the next heights are written (docs/architecture.md, "The path of
 * a compaction"), so that kills land inside compactions. Each acknowledgement is printed
 * (fuzz/kill/protocol.ts) only after its promise resolved.
 *
 * It must never print an acknowledgement before the store acknowledged it, and never exit on
 * its own while it can write (the parent's SIGKILL ends it).
 */
import { createInterface } from 'node:readline';
import { Prng } from '../../src/io/prng.ts';
import { openStore } from '../../src/store.ts';
import type { ConsensusPhase } from '../../src/model/round.ts';
import type { ValidatorVote, VoteType } from '../../src/model/vote.ts';
import { blockHashOf, fakeSignature, FUZZ_CHAIN_ID, hex, OWN_ID, validatorName } from '../keys.ts';
import { KILL_COMPACT_SHARE, KILL_RETENTION, KILL_SEGMENT_SIZE, KILL_SNAPSHOTS, KILL_VALIDATORS, killIdentity } from './protocol.ts';

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const value = i < 0 ? undefined : process.argv[i + 1];
  if (value === undefined) throw new Error(`missing ${name}`);
  return value;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function waitForGo(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === 'go') return;
  process.exit(0); // the parent went away
}

async function main(): Promise<void> {
  const dir = arg('--dir');
  const fresh = arg('--fresh') === '1';
  const prng = new Prng(Number(arg('--seed')));
  keyOf_warm();
  out('loaded');
  await waitForGo();
  const store = await openStore({
    dir,
    chainId: FUZZ_CHAIN_ID,
    // The peers' votes carry fake signatures (the kill test is about durability): unverified
    // (docs/stores.md, "Vote verification").
    voteVerification: 'off',
    signer: { ...killIdentity(), state: fresh ? 'new-key' : 'existing-key', allowFreshState: true },
    log: { segmentSize: KILL_SEGMENT_SIZE },
    retention: KILL_RETENTION,
    snapshots: KILL_SNAPSHOTS,
  });
  const latest = await store.rounds.loadRoundState();
  const wm = store.signGuard.watermark();
  let height = Math.max(latest?.state.height ?? 0, wm?.height ?? 0);
  let round = Math.max(latest?.state.round ?? 0, wm?.round ?? 0);
  out(`open ${height} ${round}`);
  for (;;) {
    height++;
    round++;
    const h = height;
    const r = round;
    const startedAt = Date.now();
    const save = async (phase: ConsensusPhase): Promise<void> => {
      const updatedAt = Date.now();
      const s = await store.rounds.saveRoundState({ height: h, round: r, phase, startedAt, updatedAt: Math.max(updatedAt, startedAt) });
      out(`r ${h} ${r} ${phase} ${s.state.updatedAt} ${s.id}`);
    };
    const calls: Promise<unknown>[] = [save('propose')];
    for (const step of ['prevote', 'precommit'] as VoteType[]) {
      calls.push(ownVote(store, h, r, step));
      for (let i = 0; i < KILL_VALIDATORS; i++) {
        const vote: ValidatorVote = { validatorId: validatorName(i), height: h, round: r, voteType: step, blockHash: blockHashOf(h, 0), timestamp: startedAt, signature: fakeSignature(h + i) };
        calls.push(store.votes.appendVote(vote).then((e) => out(`v ${vote.validatorId} ${h} ${r} ${step} ${hex(vote.blockHash!)} ${e.id}`)));
      }
      calls.push(save(step));
    }
    calls.push(save('finalize'));
    await Promise.all(calls);
    await store.votes.markFinalized(h, r);
    if (prng.bool(KILL_COMPACT_SHARE)) {
      // Not awaited: the next heights are written while it runs. A failure is the parent's to see
      // (the reopen's checks); the child only reports what resolved.
      void store.compact().then((c) => out(`c ${c.to.height} ${c.segmentsReleased}`), () => undefined);
    }
  }
}

async function ownVote(store: Awaited<ReturnType<typeof openStore>>, h: number, r: number, step: VoteType): Promise<void> {
  const hash = blockHashOf(h, 0);
  const timestamp = Date.now();
  const signed = await store.signGuard.signVote({ validatorId: OWN_ID, height: h, round: r, voteType: step, blockHash: hash, timestamp });
  out(`s ${h} ${r} ${step} ${hex(hash)} ${signed.timestamp} ${hex(signed.signature)}`);
  const e = await store.votes.appendVote(signed);
  out(`v ${OWN_ID} ${h} ${r} ${step} ${hex(hash)} ${e.id}`);
}

/** Derives the node key before `loaded`, so that the kill delay measures writing, not key setup. */
function keyOf_warm(): void {
  killIdentity();
}

main().catch((err: unknown) => {
  process.stderr.write(`kill child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(2);
});
