// Rotating the node key: a planned rotation (the old key signs it) and a lost-key rotation (the
// new key signs itself), what a verifier trusting either key accepts, a power cut at every I/O
// call of a rotation (a rerun finishes it and the directory always opens with its key), and bad
// input.
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeNodeKeyFile, encodeNodeKeyFile, generateNodeKey } from '../../src/codec/node-key.ts';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { FileSystem } from '../../src/io/types.ts';
import { openReadOnlyLog } from '../../src/log/read-only.ts';
import { rotateNodeKey } from '../../src/key-rotation.ts';
import { NODE_KEY_NAME } from '../../src/model/audit.ts';
import { openStore } from '../../src/store.ts';
import { AuditChainVerifier, feedAuditRecord } from '../../src/stores/audit-verify.ts';
import type { LogAuditLog } from '../../src/stores/audit-log.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { decodeEntryBody, splitEntryPayload } from '../../src/codec/audit-record.ts';

const CHAIN = 'rotation-chain';
const LOG = { segmentSize: 64 * 1024 };
const root = mkdtempSync(join(tmpdir(), 'cstore-key-rotation-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const newDir = (): string => join(root, `d${n++}`);

const event = (i: number) => ({ type: 'Pruned' as const, store: 'votes', belowHeight: i, entriesRemoved: 0 });

/** A store in `dir` with a few audit entries; resolves with its node key's public key. */
async function seed(dir: string, fs?: FileSystem): Promise<Uint8Array> {
  const store = await openStore({ dir, chainId: CHAIN, log: LOG, ...(fs === undefined ? {} : { fs }) });
  for (let i = 0; i < 3; i++) await store.audit.logEvent(event(i));
  const key = store.audit.publicKey;
  await store.close();
  return key;
}

/** Opens `dir` normally, appends, checks the node's own verification; resolves with the node's key. */
async function useAfter(dir: string, fs?: FileSystem): Promise<{ key: Uint8Array; rotations: number }> {
  const store = await openStore({ dir, chainId: CHAIN, log: LOG, ...(fs === undefined ? {} : { fs }) });
  // The rotation left an image signed with the new key: the open loads it, no full replay.
  expect(store.replay.image.loaded, JSON.stringify(store.replay.image.rejected)).toBeDefined();
  // Before anything is written: the chain already verifies with the node's (new) key.
  expect((await store.audit.verifyIntegrity()).ok).toBe(true);
  await store.audit.logEvent(event(99));
  expect((await store.audit.verifyIntegrity()).ok).toBe(true);
  const all = await store.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER, { limit: 10_000 });
  const rotations = all.filter((e) => e.event.type === 'KeyRotated' && e.event.keyName === NODE_KEY_NAME).length;
  const key = store.audit.publicKey;
  await store.close();
  return { key, rotations };
}

/** The verifier's report over the chain in `dir`, trusting `key`. */
async function verifyWith(dir: string, key: Uint8Array, fs?: FileSystem) {
  const log = await openReadOnlyLog({ dir, ...(fs === undefined ? {} : { fs }) });
  try {
    const verifier = new AuditChainVerifier(CHAIN, key);
    await log.scan((record) => feedAuditRecord(verifier, record));
    return verifier.finish();
  } finally {
    await log.close();
  }
}

describe('rotating the node key', () => {
  it('planned: the old key signs the rotation; verifiers trusting the old or the new key accept the chain', async () => {
    const dir = newDir();
    const oldKey = await seed(dir);
    const report = await rotateNodeKey({ dir, chainId: CHAIN, log: LOG });
    expect(report.lostKey).toBe(false);
    expect(report.resumed).toBe(false);
    expect(report.oldPublicKey).toBe(Buffer.from(oldKey).toString('hex'));
    const file = decodeNodeKeyFile(readFileSync(join(dir, 'node.key')), 'node.key');
    expect(Buffer.from(file.publicKey).toString('hex')).toBe(report.newPublicKey);
    expect(existsSync(join(dir, 'node.key.next'))).toBe(false);
    const after = await useAfter(dir);
    expect(after.key).toEqual(file.publicKey);
    expect(after.rotations).toBe(1);
    expect((await verifyWith(dir, oldKey)).ok).toBe(true);
    expect((await verifyWith(dir, file.publicKey)).ok).toBe(true);
    const stranger = await verifyWith(dir, generateNodeKey().publicKey);
    expect(stranger.ok).toBe(false);
    expect(stranger.firstBad?.reason).toContain('no head of the chain is signed by the verifying public key');
  });

  it('a new key is trusted only from a head it signed: the chain cut right after the rotation head fails with it', async () => {
    const dir = newDir();
    const oldKey = await seed(dir);
    const report = await rotateNodeKey({ dir, chainId: CHAIN, log: LOG });
    const newKey = Buffer.from(report.newPublicKey, 'hex');
    // Feed the chain up to the head that covers the rotation entry (signed by the old key), as if
    // the new key's first batch had never been written.
    const upToRotation = async (key: Uint8Array) => {
      const log = await openReadOnlyLog({ dir });
      try {
        const verifier = new AuditChainVerifier(CHAIN, key);
        let rotationSeen = false;
        await log.scan((record) => {
          if (rotationSeen && record.kind === RecordKind.AuditEvent) return false;
          feedAuditRecord(verifier, record);
          if (record.kind === RecordKind.AuditEvent && decodeEntryBody(splitEntryPayload(record.payload).body).sequence === report.sequence) rotationSeen = true;
          return true;
        });
        return verifier.finish();
      } finally {
        await log.close();
      }
    };
    expect((await upToRotation(oldKey)).ok).toBe(true);
    const withNew = await upToRotation(newKey);
    expect(withNew.ok).toBe(false);
    expect(withNew.firstBad?.reason).toContain('no head of the chain is signed by the verifying public key');
    // The whole chain: the new key's own batch (a NodeKeyRecorded of it) follows the rotation.
    expect((await verifyWith(dir, newKey)).ok).toBe(true);
  });

  it('lost key: the open says NOT_FOUND; the rotation is signed by the new key; a verifier trusting only the old key rejects it', async () => {
    const dir = newDir();
    const oldKey = await seed(dir);
    unlinkSync(join(dir, 'node.key'));
    await expect(openStore({ dir, chainId: CHAIN, log: LOG })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A planned rotation needs the old key.
    await expect(rotateNodeKey({ dir, chainId: CHAIN, log: LOG })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const report = await rotateNodeKey({ dir, chainId: CHAIN, lostKey: true, log: LOG });
    expect(report.lostKey).toBe(true);
    const after = await useAfter(dir);
    expect(Buffer.from(after.key).toString('hex')).toBe(report.newPublicKey);
    expect(after.rotations).toBe(1);
    const withOld = await verifyWith(dir, oldKey);
    expect(withOld.ok).toBe(false);
    expect(withOld.firstBad?.reason).toContain('without the old key');
    expect(withOld.firstBad?.sequence).toBe(report.sequence);
    expect((await verifyWith(dir, after.key)).ok).toBe(true);
    // With node.key back in place, --lost is refused.
    await expect(rotateNodeKey({ dir, chainId: CHAIN, lostKey: true, log: LOG })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('interrupted after the chain recorded it: the open says how to finish, and a rerun finishes it', async () => {
    const dir = newDir();
    await seed(dir);
    const next = generateNodeKey();
    writeFileSync(join(dir, 'node.key.next'), encodeNodeKeyFile(next), { mode: 0o600 });
    const store = await openStore({ dir, chainId: CHAIN, log: LOG });
    await (store.audit as LogAuditLog).rotateNodeKey(next, false);
    await store.close();
    const err = await openStore({ dir, chainId: CHAIN, log: LOG }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStoreError(err, 'INVALID_ARGUMENT') && err.message.includes('cstore rotate-key')).toBe(true);
    const report = await rotateNodeKey({ dir, chainId: CHAIN, log: LOG });
    expect(report.resumed).toBe(true);
    expect(report.newPublicKey).toBe(Buffer.from(next.publicKey).toString('hex'));
    const after = await useAfter(dir);
    expect(after.key).toEqual(next.publicKey);
    expect(after.rotations).toBe(1);
  });

  it('nobody else writes a node-key rotation: the reserved key name is INVALID_ARGUMENT in logEvent', async () => {
    const dir = newDir();
    const store = await openStore({ dir, chainId: CHAIN, log: LOG });
    const k = generateNodeKey().publicKey;
    await expect(store.audit.logEvent({ type: 'KeyRotated', keyName: NODE_KEY_NAME, oldPublicKey: k, newPublicKey: k })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    // Other key names are an ordinary event.
    await store.audit.logEvent({ type: 'KeyRotated', keyName: 'consensus', oldPublicKey: k, newPublicKey: k });
    expect(store.audit.size).toBe(2);
    await store.close();
  });

  it('bad input, a directory without a store, a running node: typed errors, nothing written', async () => {
    const dir = newDir();
    await seed(dir);
    const bad: unknown[] = [undefined, {}, { dir, chainId: '' }, { dir: '', chainId: CHAIN }, { dir, chainId: CHAIN, lostKey: 'yes' }, { dir, chainId: CHAIN, other: 1 }, { dir, chainId: CHAIN, keyFile: 7 }];
    for (const options of bad) {
      await expect(rotateNodeKey(options as never)).rejects.toSatisfy((e: unknown) => isStoreError(e, 'INVALID_ARGUMENT'));
    }
    await expect(rotateNodeKey({ dir: newDir(), chainId: CHAIN })).rejects.toSatisfy((e: unknown) => isStoreError(e, 'INVALID_ARGUMENT'));
    const running = await openStore({ dir, chainId: CHAIN, log: LOG });
    await expect(rotateNodeKey({ dir, chainId: CHAIN, log: LOG })).rejects.toSatisfy((e: unknown) => isStoreError(e, 'LOCKED'));
    await running.close();
    expect(existsSync(join(dir, 'node.key.next'))).toBe(true); // made before the open found the lock: the rerun reuses it
    const report = await rotateNodeKey({ dir, chainId: CHAIN, log: LOG });
    expect((await useAfter(dir)).rotations).toBe(1);
    expect(report.resumed).toBe(false);
  });
});

describe('a power cut at every I/O call of a rotation', () => {
  for (const lostKey of [false, true]) {
    it(`${lostKey ? 'lost-key' : 'planned'}: a rerun finishes; the directory opens with its key and the chain verifies with it`, async () => {
      const DIR = '/data/node';
      const base = new SimulatedDisk({ seed: 11 });
      await seed(DIR, base.fs());
      if (lostKey) await base.fs().unlink(`${DIR}/node.key`);
      // Count the calls of one uninterrupted rotation on a copy of the same start.
      const countDisk = new SimulatedDisk({ seed: 12 });
      await seed(DIR, countDisk.fs());
      if (lostKey) await countDisk.fs().unlink(`${DIR}/node.key`);
      const before = countDisk.callCount;
      await rotateNodeKey({ dir: DIR, chainId: CHAIN, lostKey, fs: countDisk.fs(), log: LOG });
      const calls = countDisk.callCount - before;
      expect(calls).toBeGreaterThan(50);
      const step = Math.max(1, Math.floor(calls / 60));
      let cut = 0;
      for (let at = 0; at < calls; at += step) {
        const disk = new SimulatedDisk({ seed: 100 + at });
        await seed(DIR, disk.fs());
        if (lostKey) await disk.fs().unlink(`${DIR}/node.key`);
        disk.crashAtCall(at + 1);
        const first = await rotateNodeKey({ dir: DIR, chainId: CHAIN, lostKey, fs: disk.fs(), log: LOG }).then(
          () => true,
          () => false,
        );
        if (!first) cut++;
        disk.crash(); // whatever was not synced is lost (a no-op view change when the cut already happened)
        const fs = disk.fs();
        const keyThere = (await fs.stat(`${DIR}/node.key`)) !== undefined;
        const nextThere = (await fs.stat(`${DIR}/node.key.next`)) !== undefined;
        // An operator reruns the command when it did not report success (or the key file is not in place).
        if (!first || nextThere || !keyThere) await rotateNodeKey({ dir: DIR, chainId: CHAIN, lostKey: !keyThere, fs, log: LOG });
        expect((await fs.stat(`${DIR}/node.key.next`)) === undefined, `cut at ${at}`).toBe(true);
        const after = await useAfter(DIR, fs);
        expect(after.rotations, `cut at ${at}`).toBeGreaterThanOrEqual(1);
        expect(after.rotations, `cut at ${at}`).toBeLessThanOrEqual(2);
        expect((await verifyWith(DIR, after.key, fs)).ok, `cut at ${at}`).toBe(true);
      }
      console.log(`${lostKey ? 'lost-key' : 'planned'} rotation: ${calls} calls, cut at every ${step}; ${cut} runs interrupted`);
      expect(cut).toBeGreaterThan(0);
    });
  }
});
