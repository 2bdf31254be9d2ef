// D8 across an explicit repair: the records a repair drops may hold the key's newest signatures,
// so after it the node must not sign on the surviving watermark until the operator imports the
// real one. The barrier is durable: reopening without the repair option does not lift it.
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { isStoreError } from '../../src/errors.ts';
import { openStore, type LogGroupOptions, type OpenStoreOptions, type SignerOptions } from '../../src/store.ts';
import type { LogSignGuard } from '../../src/stores/sign-guard.ts';

const privateKey = new Uint8Array(32).fill(7);
const identity = { privateKey, publicKey: publicKeyOf(privateKey), validatorId: 'me' };
const hash = (n: number): Uint8Array => new Uint8Array(32).fill(n % 251);
let dir: string;

/** How one open differs from the default: the signer's sign-state options, and log options over the defaults. */
interface Extra {
  readonly signer?: Pick<SignerOptions, 'state' | 'allowFreshState' | 'importWatermark'>;
  readonly log?: LogGroupOptions;
}

function options(extra: Extra = {}): OpenStoreOptions {
  return {
    dir,
    chainId: 'repair-chain',
    signer: { ...identity, ...extra.signer },
    log: { durability: 'fsync', segmentSize: 16 * 1024, ...extra.log },
    // The log's damage must be read by the open: a local image would cover it.
    images: { onClose: false },
  };
}

function code(err: unknown): string {
  return isStoreError(err) ? err.code : String(err);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cstore-signrepair-'));
  const store = await openStore(options({ signer: { state: 'new-key' } }));
  for (let h = 1; h <= 120; h++) {
    await store.signGuard.signVote({ validatorId: 'me', height: h, round: h, voteType: 'prevote', blockHash: hash(h), timestamp: 1_000 + h });
  }
  await store.close();
  // Damage a record inside the first, sealed segment.
  const fd = openSync(join(dir, 'wal', '0000000000000001.wal'), 'r+');
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, 600);
  byte[0] = (byte[0] as number) ^ 0x01;
  writeSync(fd, byte, 0, 1, 600);
  closeSync(fd);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Zeroes the newest segment that holds data from inside its first record to its end. */
function zeroNewestSegment(): void {
  const names = readdirSync(join(dir, 'wal')).filter((n) => n.endsWith('.wal')).sort();
  for (const name of names.reverse()) {
    const path = join(dir, 'wal', name);
    const fd = openSync(path, 'r+');
    try {
      const head = Buffer.alloc(32);
      readSync(fd, head, 0, 32, 0);
      if (head.every((b) => b === 0)) continue;
      const size = fstatSync(fd).size;
      writeSync(fd, Buffer.alloc(size - 40), 0, size - 40, 40);
      return;
    } finally {
      closeSync(fd);
    }
  }
}

describe('the sign guard after an explicit repair', () => {
  it('refuses the repairing open and every later one until a watermark is imported, then signs only above it', async () => {
    await expect(openStore(options())).rejects.toSatisfy((err) => code(err) === 'CORRUPTION');
    await expect(openStore(options({ log: { repair: true } }))).rejects.toSatisfy((err) => code(err) === 'FRESH_SIGN_STATE');
    // The barrier is in the log: a plain reopen is refused too.
    await expect(openStore(options())).rejects.toSatisfy((err) => code(err) === 'FRESH_SIGN_STATE');

    const store = await openStore(options({ signer: { importWatermark: { height: 120, round: 120, step: 'prevote' } } }));
    await expect(
      store.signGuard.signVote({ validatorId: 'me', height: 119, round: 119, voteType: 'prevote', blockHash: hash(5), timestamp: 5 }),
    ).rejects.toSatisfy((err) => code(err) === 'CONFLICT');
    const next = await store.signGuard.signVote({ validatorId: 'me', height: 121, round: 121, voteType: 'prevote', blockHash: hash(121), timestamp: 9 });
    expect(next.signature).toHaveLength(64);
    await store.close();

    // Imported once, asked no more.
    const again = await openStore(options());
    expect(again.signGuard.watermark()).toEqual({ height: 121, round: 121, step: 'prevote' });
    await again.close();
  });

  it('keeps refusing, even with allowFreshState, while the sign-state copy is above the log, until its watermark is imported', async () => {
    // The repair must lose the newest sign records for the copy to be above the log: the
    // newest segment is damaged from its first batch on, with nothing intact after it (a cut).
    zeroNewestSegment();
    const refused = await openStore(options({ log: { repair: true }, signer: { allowFreshState: true } })).then(
      () => 'opened',
      (err: unknown) => err,
    );
    expect(code(refused)).toBe('FRESH_SIGN_STATE');
    expect((refused as Error).message).toContain('SIGNSTATE');
    expect((refused as { details: { copy: unknown } }).details.copy).toEqual({ height: 120, round: 120, step: 'prevote' });
    await expect(openStore(options({ signer: { allowFreshState: true } }))).rejects.toSatisfy((err) => code(err) === 'FRESH_SIGN_STATE');
    // An import below the copy is recorded but does not lift it; the copy's own watermark does.
    await expect(openStore(options({ signer: { importWatermark: { height: 119, round: 119, step: 'precommit' } } }))).rejects.toSatisfy(
      (err) => code(err) === 'FRESH_SIGN_STATE',
    );
    const store = await openStore(options({ signer: { importWatermark: { height: 120, round: 120, step: 'prevote' } } }));
    expect(store.signGuard.watermark()).toEqual({ height: 120, round: 120, step: 'prevote' });
    await expect(
      store.signGuard.signVote({ validatorId: 'me', height: 120, round: 120, voteType: 'prevote', blockHash: hash(1), timestamp: 1 }),
    ).rejects.toSatisfy((err) => code(err) === 'CONFLICT');
    await store.close();
  });

  it('lets an operator accept the risk for one open with allowFreshState, without lifting the barrier', async () => {
    // A directory without the sign-state copy (written before it existed): the barrier alone.
    rmSync(join(dir, 'SIGNSTATE'));
    const store = await openStore(options({ log: { repair: true }, signer: { allowFreshState: true } }));
    expect(store.log.openReport.repair?.firstLostLsn).toBeGreaterThan(0);
    await store.close();
    await expect(openStore(options())).rejects.toSatisfy((err) => code(err) === 'FRESH_SIGN_STATE');
  });

  it('writes the barrier with the repair: the repair is known as recorded, and the record builder checks its input', async () => {
    rmSync(join(dir, 'SIGNSTATE'));
    const store = await openStore(options({ log: { repair: true }, signer: { allowFreshState: true } }));
    try {
      const guard = store.signGuard as LogSignGuard;
      const [pending] = store.log.openReport.pendingRepairs;
      expect(pending).toBeDefined();
      expect(guard.hasRecordedRepair(pending!.id)).toBe(true);
      expect(guard.hasRecordedRepair(pending!.id + 1)).toBe(false);
      for (const [lost, id] of [[5, 0], [5, -1], [5, 1.5], [-1, 3], [Number.NaN, 3]] as const) {
        expect(() => guard.repairBarrierRecord(lost, id)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      }
      expect(guard.repairBarrierRecord(undefined, 3).payload).toHaveLength(24);
    } finally {
      await store.close();
    }
    // Acknowledged: the next open has nothing pending, and the barrier still holds.
    await expect(openStore(options())).rejects.toSatisfy((err) => code(err) === 'FRESH_SIGN_STATE');
    const allowed = await openStore(options({ signer: { allowFreshState: true } }));
    expect(allowed.log.openReport.pendingRepairs).toEqual([]);
    await allowed.close();
  });
});

