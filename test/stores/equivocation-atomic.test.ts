/**
 * D3 through openStore: the batch of an equivocating vote carries the vote, its Evidence record
 * and its EquivocationDetected audit entry (with the signed audit head) as ONE log.append made by
 * the audit log. A power cut at every I/O call of that batch, on the simulated disk under the
 * real write-ahead log (with and without a segment rotation inside the batch): after reopen all
 * three are there or none (none when the cut comes before the batch's first segment write, all
 * when it comes after the batch's commit sync, located from the calls the disk numbers), an
 * acknowledged append has all three, and the audit chain verifies.
 * Also: concurrency with other audit writers, a DISK_FULL batch leaving nothing behind, and the
 * devnet's accountability sink not writing the audit entry a second time.
 */
import { describe, expect, it } from 'vitest';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { sinksFromStores } from '../../src/consensus/accountability-sinks.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { FileHandle, FileSystem } from '../../src/io/types.ts';
import { openStore, type ConsensusStore } from '../../src/store.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import { delegatingFs } from '../support/delegating-fs.ts';
import { writableLogOf } from '../../src/store.ts';

const CHAIN = 'atomic-chain';
const DIR = '/data';
const NODE_KEY = { privateKey: new Uint8Array(32).fill(42) };
const SEGMENT_SIZE = 4096;

function keyOf(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

function vote(validator: number, round: number, hashByte: number, height = 7): ValidatorVote {
  return signVote(
    { validatorId: `val-${validator}`, height, round, voteType: 'prevote', blockHash: new Uint8Array(32).fill(hashByte), timestamp: 1_700_000_000_000 + round },
    keyOf(validator),
    CHAIN,
  );
}

/** One I/O call as the simulated disk numbers them: the operation and its path. */
interface IoCall {
  readonly op: string;
  readonly path: string;
}

/**
 * `fs` with every call written down in `calls` as it is made, before it reaches the disk, so
 * that `calls[k - 1]` is the call `crashAtCall(k)` counted from `calls.length` would cut.
 */
function recordingFs(fs: FileSystem, calls: IoCall[]): FileSystem {
  const note = (op: string, path: string): void => void calls.push({ op, path });
  const handle = (h: FileHandle): FileHandle => ({
    path: h.path,
    read: (buffer, position, offset, length) => (note('read', h.path), h.read(buffer, position, offset, length)),
    write: (buffers, position) => (note('write', h.path), h.write(buffers, position)),
    datasync: () => (note('datasync', h.path), h.datasync()),
    writeAndSync: (buffers, position) => (note('writeAndSync', h.path), h.writeAndSync(buffers, position)),
    truncate: (length) => (note('truncate', h.path), h.truncate(length)),
    size: () => (note('size', h.path), h.size()),
    close: () => (note('close', h.path), h.close()),
  });
  return delegatingFs(fs, {
    open: (path, mode, options) => (note('open', path), fs.open(path, mode, options).then(handle)),
    readFile: (path) => (note('readFile', path), fs.readFile(path)),
    rename: (from, to) => (note('rename', from), fs.rename(from, to)),
    unlink: (path) => (note('unlink', path), fs.unlink(path)),
    mkdir: (path) => (note('mkdir', path), fs.mkdir(path)),
    readdir: (path) => (note('readdir', path), fs.readdir(path)),
    rmdir: (path) => (note('rmdir', path), fs.rmdir(path)),
    stat: (path) => (note('stat', path), fs.stat(path)),
    syncDir: (path) => (note('syncDir', path), fs.syncDir(path)),
    lock: (path) => (note('lock', path), fs.lock(path)),
  });
}

/** Opens the store on `disk`; with `calls`, every I/O call of the store is written down there. */
async function open(disk: SimulatedDisk, calls?: IoCall[]): Promise<ConsensusStore> {
  let clock = 1_750_000_000_000;
  const fs = calls === undefined ? disk.fs() : recordingFs(disk.fs(), calls);
  return openStore({ dir: DIR, fs, chainId: CHAIN, audit: { nodeKey: NODE_KEY }, now: () => clock++, log: { segmentSize: SEGMENT_SIZE } });
}

/** A store with validators 1..3 registered, vote A of val-1 in round 5, and `filler` other votes. */
async function prepared(seed: number, filler: number, calls?: IoCall[]): Promise<{ disk: SimulatedDisk; store: ConsensusStore }> {
  const disk = new SimulatedDisk({ seed, tearInterruptedWrites: true });
  const store = await open(disk, calls);
  for (const n of [1, 2, 3]) await store.validators.registerValidator({ validatorId: `val-${n}`, publicKey: publicKeyOf(keyOf(n)), stake: 100n }, 0);
  await store.votes.appendVote(vote(1, 5, 0xaa));
  for (let i = 0; i < filler; i++) await store.votes.appendVote(vote(2 + (i % 2), 10 + i, 1));
  return { disk, store };
}

/** What of the equivocation the store holds: the second vote, its evidence, its audit entry. */
async function parts(store: ConsensusStore): Promise<{ vote: number; evidence: number; audit: number }> {
  const votes = await store.votes.queryVotes({ validatorId: 'val-1', round: 5 });
  const evidence = await store.evidence.queryByValidator('val-1');
  const audit = (await store.audit.queryByValidator('val-1')).filter((e) => e.event.type === 'EquivocationDetected');
  return { vote: votes.length - 1, evidence: evidence.length, audit: audit.length };
}

describe('equivocation through openStore: vote, evidence and audit entry in one batch (D3)', () => {
  it('writes all three, indexed in every store, in contiguous LSNs of one append', async () => {
    const { store } = await prepared(1, 0);
    const before = store.log.nextLsn;
    const result = await store.votes.appendVote(vote(1, 5, 0xbb));
    expect(result.outcome).toBe('equivocation');
    expect(await parts(store)).toEqual({ vote: 1, evidence: 1, audit: 1 });
    const kinds: number[] = [];
    await writableLogOf(store).scan((r) => void kinds.push(r.kind), before);
    expect(kinds).toEqual([RecordKind.Vote, RecordKind.Evidence, RecordKind.AuditEvent, RecordKind.AuditHead]);
    const [stored] = await store.evidence.queryByValidator('val-1');
    expect(stored).toMatchObject({ type: 'Equivocation', status: 'verified', submittedBy: 'local' });
    expect((await store.audit.verifyIntegrity()).ok).toBe(true);
    await store.close();
  });

  /**
   * The batch's I/O calls, from the disk's own numbering: where the first write to a segment is,
   * and where the last sync of a segment before the append was acknowledged is (its commit).
   * A cut before the first write must leave none of the three, a cut after the commit all three.
   */
  function landmarks(batch: readonly IoCall[], ackedAfter: number): { firstWrite: number; commit: number } {
    const segment = (c: IoCall): boolean => c.path.endsWith('.wal');
    const firstWrite = batch.findIndex((c) => segment(c) && (c.op === 'write' || c.op === 'writeAndSync')) + 1;
    let commit = 0;
    for (let i = 0; i < ackedAfter; i++) {
      const c = batch[i] as IoCall;
      if (segment(c) && (c.op === 'datasync' || c.op === 'writeAndSync')) commit = i + 1;
    }
    return { firstWrite, commit };
  }

  it.each([
    [11, 0],
    [12, 9],
    [13, 14],
    [14, 17],
    [15, 15],
    [16, 13],
  ])('a power cut at every I/O call of the batch leaves all three or none: none before its first write, all after its commit (seed %i, %i filler votes)', async (seed, filler) => {
    // The probe: the batch's I/O calls, recorded the same way as in every run below (same timing).
    const probeCalls: IoCall[] = [];
    const probe = await prepared(seed, filler, probeCalls);
    const start = probe.disk.callCount;
    const from = probeCalls.length;
    let ackedAfter = -1;
    await probe.store.votes.appendVote(vote(1, 5, 0xbb)).then(() => {
      ackedAfter = probeCalls.length - from;
    });
    const total = probe.disk.callCount - start;
    const batch = probeCalls.slice(from);
    await probe.store.close();
    expect(batch, 'the recorder saw every call the disk counted').toHaveLength(total);
    const { firstWrite, commit } = landmarks(batch, ackedAfter);
    expect(firstWrite, JSON.stringify(batch)).toBeGreaterThan(0);
    expect(commit, JSON.stringify(batch)).toBeGreaterThanOrEqual(firstWrite);

    // Crash points: 0 is a cut just before the append, 1..total the k-th call of the batch, total + 1 a cut right after the acknowledgement.
    const seen = { all: 0, none: 0 };
    for (let at = 0; at <= total + 1; at++) {
      const calls: IoCall[] = [];
      const { disk, store } = await prepared(seed, filler, calls);
      const before = calls.length;
      let acked = false;
      if (at >= 1 && at <= total) disk.crashAtCall(at);
      if (at >= 1) {
        try {
          await store.votes.appendVote(vote(1, 5, 0xbb));
          acked = true;
        } catch {
          // the power cut
        }
      }
      if (disk.stats.crashes === 0) disk.crash();
      // The same calls as the probe's up to the cut, so the landmarks apply to this run. (A cut
      // armed after the acknowledgement may not be reached before the explicit crash above.)
      const made = calls.slice(before, before + Math.min(at, total));
      expect(made, `crash point ${at}`).toEqual(batch.slice(0, made.length));
      if (!acked && at >= 1) expect(made, `crash point ${at}: cut before the acknowledgement`).toHaveLength(at);
      const reopened = await open(disk);
      const got = await parts(reopened);
      const all = got.vote === 1 && got.evidence === 1 && got.audit === 1;
      const none = got.vote === 0 && got.evidence === 0 && got.audit === 0;
      const where = `crash point ${at} of ${total} (first write ${firstWrite}, commit ${commit}): ${JSON.stringify(got)}`;
      expect(all || none, where).toBe(true);
      if (at < firstWrite) expect(none, `${where}: cut before the batch's first write`).toBe(true);
      if (at > commit) expect(all, `${where}: cut after the batch's commit`).toBe(true);
      if (at === total + 1) expect(acked, where).toBe(true);
      if (acked) expect(all, `${where}: acknowledged`).toBe(true);
      if (all) seen.all++;
      else seen.none++;
      const integrity = await reopened.audit.verifyIntegrity();
      expect(integrity.ok, `${where}: ${JSON.stringify(integrity)}`).toBe(true);
      // The store keeps working: the equivocation can be (re)recorded, once.
      await reopened.votes.appendVote(vote(1, 5, 0xbb));
      expect(await parts(reopened)).toEqual({ vote: 1, evidence: 1, audit: 1 });
      await reopened.close();
    }
    // Both outcomes occurred in this test's own crash points.
    expect(seen.none).toBeGreaterThanOrEqual(firstWrite);
    expect(seen.all).toBeGreaterThanOrEqual(total + 1 - commit);
    console.log(`equivocation crash points (seed ${seed}, ${filler} filler votes): ${total} I/O calls, first write ${firstWrite}, commit ${commit}; after the cut all three ${seen.all}, none ${seen.none}`);
  });

  it('orders concurrent equivocations and other audit writes in one valid chain', async () => {
    // Default-sized segments: the audit log joins concurrent calls into one batch (see the report on batch bytes).
    const disk = new SimulatedDisk({ seed: 2 });
    const store = await openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey: NODE_KEY } });
    for (const n of [1, 2]) await store.validators.registerValidator({ validatorId: `val-${n}`, publicKey: publicKeyOf(keyOf(n)), stake: 100n }, 0);
    await store.votes.appendVote(vote(1, 5, 0xaa));
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      calls.push(store.votes.appendVote(vote(1, 5, 0xb0 + i)));
      calls.push(store.audit.logEvent({ type: 'RoundStarted', height: 7, round: 20 + i, proposer: 'val-2' }));
      calls.push(store.votes.appendVote(vote(2, 30 + i, 1)));
      calls.push(store.votes.appendVote(vote(2, 30 + i, 2)));
    }
    await Promise.all(calls);
    // val-1, round 5: A then four conflicting votes, serialized: vote k conflicts with the k before it.
    const evidence = await store.evidence.queryByValidator('val-1');
    const audit = (await store.audit.queryByValidator('val-1')).filter((e) => e.event.type === 'EquivocationDetected');
    expect(evidence.length).toBe(1 + 2 + 3 + 4);
    expect(audit.length).toBe(1 + 2 + 3 + 4);
    expect((await store.evidence.getOffenseCount('val-2')).verified).toBe(4);
    expect((await store.audit.verifyIntegrity()).ok).toBe(true);
    await store.close();
  });

  it('a batch that fails (DISK_FULL) leaves nothing in any store, and a retry records it once', async () => {
    const { disk, store } = await prepared(3, 0);
    const auditSize = store.audit.size;
    disk.injectFault('writeAndSync', 'ENOSPC');
    disk.injectFault('write', 'ENOSPC');
    await expect(store.votes.appendVote(vote(1, 5, 0xbb))).rejects.toMatchObject({ code: 'DISK_FULL' });
    disk.clearFaults();
    expect(await parts(store)).toEqual({ vote: 0, evidence: 0, audit: 0 });
    expect(store.audit.size).toBe(auditSize);
    const again = await store.votes.appendVote(vote(1, 5, 0xbb));
    expect(again.outcome).toBe('equivocation');
    expect(await parts(store)).toEqual({ vote: 1, evidence: 1, audit: 1 });
    expect((await store.audit.verifyIntegrity()).ok).toBe(true);
    await store.close();
    const reopened = await open(disk);
    expect(await parts(reopened)).toEqual({ vote: 1, evidence: 1, audit: 1 });
    await reopened.close();
  });

  it('the devnet sink finds the evidence recorded and writes no second audit entry', async () => {
    const { store } = await prepared(4, 0);
    const first = vote(1, 5, 0xaa);
    const second = vote(1, 5, 0xbb);
    await store.votes.appendVote(second);
    const sinks = sinksFromStores(store, 'node-1');
    await sinks.recordEvidence?.({ validatorId: 'val-1', first, second, detectedAtHeight: 7 }, 'id');
    expect(await parts(store)).toEqual({ vote: 1, evidence: 1, audit: 1 });
    await store.close();
  });
});
