/**
 * openStore's wiring of the accountability stores: the audit log, evidence store and reward
 * history in the one replay pass; the node key (option, key file created with mode 0600,
 * ephemeral for a keyless openStoreOnLog); entry 0 and the StoreRepaired entry written after
 * replay; evidence keys from `validators.publicKeyAt`; the evidence's `submittedBy`; CLOSED
 * after close. Also the FileSystem's `fileMode` at creation (real and simulated) and
 * `ValidatorRegistry.publicKeyAt`.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeNodeKeyFile } from '../../src/codec/node-key.ts';
import { loadOrCreateNodeKey, NODE_KEY_FILE_MODE } from '../../src/stores/node-key-file.ts';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import { defaultFileSystem } from '../../src/io/real-fs.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { FileSystem, OpenOptions } from '../../src/io/types.ts';
import { openStore, openStoreOnLog, type ConsensusStore } from '../../src/store.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import { expectCode } from '../../src/testing/conformance/vote-store.conformance.ts';
import { isStoreError } from '../../src/errors.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import { delegatingFs } from '../support/delegating-fs.ts';
import type { LogAuditLog } from '../../src/stores/audit-log.ts';

const CHAIN = 'wiring-chain';
const DIR = '/data';
/** Small segments: preallocating the default 64 MiB ones costs seconds here. */
const LOG = { segmentSize: 256 * 1024 };

function keyOf(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

function vote(validator: number, round: number, hashByte: number, height = 3): ValidatorVote {
  return signVote(
    { validatorId: `val-${validator}`, height, round, voteType: 'precommit', blockHash: new Uint8Array(32).fill(hashByte), timestamp: 1_700_000_000_000 },
    keyOf(validator),
    CHAIN,
  );
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cstore-wiring-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The part of `mode` the process umask lets through. */
function masked(mode: number): number {
  const umask = process.umask(0o022);
  process.umask(umask);
  return mode & ~umask;
}

/** A FileSystem that records the options of every `open`. */
function recordingFs(fs: FileSystem, seen: (OpenOptions | undefined)[]): FileSystem {
  return delegatingFs(fs, {
    open: (p, m, o) => {
      seen.push(o);
      return fs.open(p, m, o);
    },
  });
}

describe('openStore: the accountability stores', () => {
  it('replays audit, evidence and rewards with the core stores in one pass', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const nodeKey = { privateKey: keyOf(77) };
    // A full replay (no image at close), which is what this test looks at.
    const first = await openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey }, log: LOG, images: { onClose: false } });
    await first.validators.registerValidator({ validatorId: 'val-1', publicKey: publicKeyOf(keyOf(1)), stake: 10n }, 0);
    await first.votes.appendVote(vote(1, 4, 1));
    await first.votes.appendVote(vote(1, 4, 2));
    await first.audit.logEvent({ type: 'RoundStarted', height: 3, round: 4, proposer: 'val-1' });
    await first.rewards.recordDistribution({
      height: 3,
      timestamp: 1_700_000_000_000,
      treasuryBefore: 1000n,
      treasuryAfter: 990n,
      totalDistributed: 10n,
      lines: [{ validatorId: 'val-1', reason: 'BlockProposal', amount: 10n }],
    });
    const auditSize = first.audit.size;
    await first.close();

    const second = await openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey }, log: LOG });
    expect(second.replay.unknownKindRecords).toBe(0);
    expect(second.replay.records).toBe(second.log.nextLsn - 1);
    expect(second.audit.size).toBe(auditSize);
    expect(second.evidence.size).toBe(1);
    expect(await second.rewards.getTotalDistributed(3)).toBe(10n);
    expect(await second.votes.countVotesForRound(4)).toBe(2);
    const entries = await second.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER);
    expect(entries.map((e) => e.event.type)).toEqual(['NodeKeyRecorded', 'EquivocationDetected', 'RoundStarted']);
    expect((await second.audit.verifyIntegrity()).ok).toBe(true);
    await second.close();
  });

  it('backs evidence keys with the registry: unknown validator unverified, registered one verified', async () => {
    const disk = new SimulatedDisk({ seed: 2 });
    // Unverified votes ('off'), so that an unknown validator's equivocation reaches the evidence store.
    const store = await openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey: { privateKey: keyOf(77) } }, log: LOG, voteVerification: 'off' });
    await store.votes.appendVote(vote(2, 4, 1));
    await store.votes.appendVote(vote(2, 4, 2));
    expect((await store.evidence.getOffenseCount('val-2')).unverified).toBe(1);
    await store.validators.registerValidator({ validatorId: 'val-3', publicKey: publicKeyOf(keyOf(3)), stake: 10n }, 0);
    await store.votes.appendVote(vote(3, 4, 1));
    await store.votes.appendVote(vote(3, 4, 2));
    const [stored] = await store.evidence.queryByValidator('val-3');
    expect(stored?.status).toBe('verified');
    expect(await store.evidence.verifyEvidence(stored?.id ?? '')).toEqual({ ok: true });
    await store.close();
  });

  it("records the node's own detections as submitted by its validator id, or by options.nodeId", async () => {
    const a = await openStoreOnLog(MemoryLog.open(), { chainId: CHAIN, signer: { validatorId: 'me', privateKey: keyOf(9), state: 'new-key' } });
    await a.validators.registerValidator({ validatorId: 'val-1', publicKey: publicKeyOf(keyOf(1)), stake: 10n }, 0);
    await a.votes.appendVote(vote(1, 4, 1));
    await a.votes.appendVote(vote(1, 4, 2));
    expect((await a.evidence.queryByValidator('val-1'))[0]?.submittedBy).toBe('me');
    await a.close();
    const b = await openStoreOnLog(MemoryLog.open(), { chainId: CHAIN, nodeId: 'node-7' });
    await b.validators.registerValidator({ validatorId: 'val-1', publicKey: publicKeyOf(keyOf(1)), stake: 10n }, 0);
    await b.votes.appendVote(vote(1, 4, 1));
    await b.votes.appendVote(vote(1, 4, 2));
    expect((await b.evidence.queryByValidator('val-1'))[0]?.submittedBy).toBe('node-7');
    await b.close();
    await expectCode(openStoreOnLog(MemoryLog.open(), { chainId: CHAIN, nodeId: '' }), 'INVALID_ARGUMENT');
  });

  it('logs StoreRepaired (what was lost) after an open that repaired the log', async () => {
    const disk = new SimulatedDisk({ seed: 3 });
    const nodeKey = { privateKey: keyOf(77) };
    // No image at close: the damage below must be read by the next open.
    // Unverified votes: the test is about the log's repair, not signatures.
    const first = await openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey }, log: { segmentSize: 4096 }, images: { onClose: false }, voteVerification: 'off' });
    for (let round = 1; round <= 60; round++) await first.votes.appendVote(vote(1, round, 1));
    await first.close();
    disk.flipBit(`${DIR}/wal/${String(2).padStart(16, '0')}.wal`, 700, 3);
    await expectCode(openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey }, log: { segmentSize: 4096 } }), 'CORRUPTION');
    const repaired = await openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey }, log: { segmentSize: 4096, repair: true } });
    const report = repaired.log.openReport.repair;
    expect(report).toBeDefined();
    const [entry] = await repaired.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER, { descending: true, limit: 1 });
    expect(entry?.event).toEqual({
      type: 'StoreRepaired',
      file: report?.file,
      offset: report?.offset,
      firstLostLsn: report?.firstLostLsn ?? null,
      bytesDropped: report?.bytesDropped,
      brokenCopy: report?.brokenCopy,
      lastLostLsn: report?.lastLostLsn ?? null,
      recordsDropped: report?.recordsDropped ?? null,
      gapEnd: report?.gapEnd ?? null,
      // Votes only: the gap took no audit entry.
      lostAuditSequences: null,
    });
    expect((await repaired.audit.verifyIntegrity()).ok).toBe(true);
    await repaired.close();
    // Logged once: the next open repairs nothing.
    const again = await openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey }, log: { segmentSize: 4096 } });
    const repairs = (await again.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER)).filter((e) => e.event.type === 'StoreRepaired');
    expect(repairs.length).toBe(1);
    await again.close();
  });

  it('rejects CLOSED after close: votes, audit, registry writes and publicKeyAt', async () => {
    const store = await openStoreOnLog(MemoryLog.open(), { chainId: CHAIN });
    await store.validators.registerValidator({ validatorId: 'val-1', publicKey: publicKeyOf(keyOf(1)), stake: 10n }, 0);
    await store.close();
    await expectCode(store.votes.appendVote(vote(1, 4, 1)), 'CLOSED');
    await expectCode(store.audit.logEvent({ type: 'RoundStarted', height: 3, round: 4, proposer: 'val-1' }), 'CLOSED');
    await expectCode(store.audit.queryByHeight(3), 'CLOSED');
    await expectCode(store.audit.queryByValidator('val-1'), 'CLOSED');
    await expectCode(store.audit.queryByDateRange(0, 1), 'CLOSED');
    await expectCode(store.audit.getEvidence({ validatorId: 'val-1' }), 'CLOSED');
    await expectCode(store.audit.verifyIntegrity(), 'CLOSED');
    await expectCode(store.audit.export('/tmp/never'), 'CLOSED');
    await expectCode((store.audit as LogAuditLog).recordNodeKey(), 'CLOSED');
    await expectCode(store.validators.registerValidator({ validatorId: 'val-2', publicKey: publicKeyOf(keyOf(2)), stake: 1n }, 0), 'CLOSED');
    await expectCode(store.validators.updateStake('val-1', 5n, 1), 'CLOSED');
    await expectCode(store.validators.updateStatus('val-1', 'jailed', 1, 'x'), 'CLOSED');
    await expectCode(store.validators.recordSlash({ validatorId: 'val-1', height: 1, amount: 1n, reason: 'x' }), 'CLOSED');
    expect(() => store.validators.publicKeyAt('val-1', 1)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });
});

describe('openStore: the node key', () => {
  it('creates <dir>/node.key with mode 0600 on first open, records its public key as entry 0, and reuses it', async () => {
    const dir = tempDir();
    // A temp file a crash left with a looser mode is not reused.
    writeFileSync(join(dir, 'node.key.tmp'), 'junk');
    chmodSync(join(dir, 'node.key.tmp'), 0o644);
    const first = await openStore({ dir, chainId: CHAIN, log: LOG });
    const file = join(dir, 'node.key');
    expect(statSync(file).mode & 0o777).toBe(NODE_KEY_FILE_MODE);
    const key = decodeNodeKeyFile(readFileSync(file), file);
    expect(first.audit.publicKey).toEqual(key.publicKey);
    const [entry0] = await first.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER);
    expect(entry0?.event).toEqual({ type: 'NodeKeyRecorded', publicKey: key.publicKey });
    await first.close();
    const second = await openStore({ dir, chainId: CHAIN, log: LOG });
    expect(second.audit.publicKey).toEqual(key.publicKey);
    expect(second.audit.size).toBe(1);
    expect((await second.audit.verifyIntegrity()).ok).toBe(true);
    await second.close();

    // The key file missing from a directory whose log holds records: NOT_FOUND naming the file,
    // and no new key is written (it would not match the chain's, and would be left behind).
    const saved = readFileSync(file);
    unlinkSync(file);
    const missing = await openStore({ dir, chainId: CHAIN, log: LOG }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStoreError(missing, 'NOT_FOUND') && missing.message.includes(file) && missing.message.includes('rotate-key')).toBe(true);
    expect(existsSync(file)).toBe(false);
    // Another key than the one the chain records: the open fails (and releases the directory).
    await expectCode(openStore({ dir, chainId: CHAIN, audit: { nodeKey: { privateKey: keyOf(5) } }, log: LOG }), 'INVALID_ARGUMENT');
    writeFileSync(file, saved);
    const third = await openStore({ dir, chainId: CHAIN, log: LOG });
    expect(third.audit.publicKey).toEqual(key.publicKey);
    await third.close();
  });

  it('takes the key from options (no key file), checks it, and fails CORRUPTION on a damaged key file', async () => {
    const disk = new SimulatedDisk({ seed: 5 });
    const nodeKey = { privateKey: keyOf(6), publicKey: publicKeyOf(keyOf(6)) };
    const store = await openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey }, log: LOG });
    expect(store.audit.publicKey).toEqual(nodeKey.publicKey);
    expect(disk.listFiles().some((f) => f.endsWith('node.key'))).toBe(false);
    await store.close();
    for (const bad of [{ privateKey: new Uint8Array(31) }, { privateKey: keyOf(6), publicKey: publicKeyOf(keyOf(7)) }, 'key']) {
      await expectCode(openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey: bad as never }, log: LOG }), 'INVALID_ARGUMENT');
    }
    const other = new SimulatedDisk({ seed: 6 });
    await other.fs().mkdir(DIR);
    const h = await other.fs().open(`${DIR}/node.key`, 'create');
    await h.writeAndSync([new TextEncoder().encode('not a key\n')], 0);
    await h.close();
    await expectCode(openStore({ dir: DIR, fs: other.fs(), chainId: CHAIN, log: LOG }), 'CORRUPTION');
    // The failed open released the lock.
    const ok = await openStore({ dir: DIR, fs: other.fs(), chainId: CHAIN, audit: { nodeKey }, log: LOG });
    await ok.close();
  });

  it('openStoreOnLog without a key uses one ephemeral key per process, recorded with the first audit batch', async () => {
    const disk = new MemoryDisk();
    const first = await openStoreOnLog(MemoryLog.open(disk), { chainId: CHAIN, voteVerification: 'off' });
    expect(first.log.nextLsn).toBe(1);
    await first.votes.appendVote(vote(1, 4, 1));
    await first.votes.appendVote(vote(1, 4, 2));
    const key = first.audit.publicKey;
    await first.close();
    const second = await openStoreOnLog(MemoryLog.open(disk), { chainId: CHAIN, voteVerification: 'off' });
    expect(second.audit.publicKey).toEqual(key);
    await second.votes.appendVote(vote(1, 4, 3));
    const types = (await second.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER)).map((e) => e.event.type);
    expect(types).toEqual(['NodeKeyRecorded', 'EquivocationDetected', 'EquivocationDetected', 'EquivocationDetected']);
    expect((await second.audit.verifyIntegrity()).ok).toBe(true);
    await second.close();
    // With a key given, entry 0 is written at open.
    const keyed = await openStoreOnLog(MemoryLog.open(), { chainId: CHAIN, audit: { nodeKey: { privateKey: keyOf(8) } } });
    expect(keyed.audit.size).toBe(1);
    await keyed.close();
  });
});

describe('FileSystem.open fileMode', () => {
  it('real: applies at creation only, default 0644, bad values are a TypeError', async () => {
    const dir = tempDir();
    const fs = defaultFileSystem();
    for (const [name, options, mode] of [
      ['a', { fileMode: 0o600 }, 0o600],
      ['b', { fileMode: 0o640 }, 0o640],
      ['c', undefined, 0o644],
      ['d', {}, 0o644],
    ] as const) {
      const h = await fs.open(join(dir, name), 'create-exclusive', options);
      await h.close();
      expect(statSync(join(dir, name)).mode & 0o777, name).toBe(masked(mode));
    }
    const h = await fs.open(join(dir, 'c'), 'create', { fileMode: 0o600 });
    await h.close();
    expect(statSync(join(dir, 'c')).mode & 0o777).toBe(masked(0o644));
    for (const fileMode of [-1, 0o1000, 1.5, Number.NaN]) {
      await expect(fs.open(join(dir, 'e'), 'create', { fileMode })).rejects.toThrow(TypeError);
    }
  });

  it('simulated: checks the mode the same way; the node key asks for 0600', async () => {
    const disk = new SimulatedDisk({ seed: 7 });
    await expect(disk.fs().open('/x', 'create', { fileMode: 0o1000 })).rejects.toThrow(TypeError);
    const h = await disk.fs().open('/x', 'create', { fileMode: 0o600 });
    await h.close();
    const seen: (OpenOptions | undefined)[] = [];
    await loadOrCreateNodeKey(recordingFs(disk.fs(), seen), '/node.key');
    expect(seen).toEqual([{ fileMode: 0o600 }]);
  });
});

describe('ValidatorRegistry.publicKeyAt', () => {
  it('answers the key from the registration height on, whatever the status; a copy; undefined otherwise', async () => {
    const store: ConsensusStore = await openStoreOnLog(MemoryLog.open(), { chainId: CHAIN });
    const key = publicKeyOf(keyOf(1));
    await store.validators.registerValidator({ validatorId: 'val-1', publicKey: key, stake: 10n }, 10);
    await store.validators.updateStatus('val-1', 'tombstoned', 20, 'double sign');
    expect(store.validators.publicKeyAt('val-1', 9)).toBeUndefined();
    expect(store.validators.publicKeyAt('val-1', 10)).toEqual(key);
    expect(store.validators.publicKeyAt('val-1', 25)).toEqual(key);
    expect(store.validators.publicKeyAt('val-2', 25)).toBeUndefined();
    const copy = store.validators.publicKeyAt('val-1', 10);
    copy?.fill(0);
    expect(store.validators.publicKeyAt('val-1', 10)).toEqual(key);
    expect(() => store.validators.publicKeyAt('', 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => store.validators.publicKeyAt('val-1', -1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await store.close();
  });
});
