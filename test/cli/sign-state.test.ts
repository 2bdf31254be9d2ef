// Sign-state interchange conformance, modelled on the EIP-3076 interchange tests: each case runs
// `cstore sign-state export|import` as a process, then opens the directory as the node would
// (openStore with the key, default `existing-key`) and asks its sign guard to sign. Cases: the
// format (integers as strings, minimal and complete forms), a double vote and a regression
// refused after an import, the same data re-signed (refused on another directory, returned
// from the one that signed it), a wrong chain id (refused, nothing written), a merge by maxima
// (several entries, a lower import writes nothing), an idempotent repeat, a gap, a round going
// back (CONFLICT), CometBFT's priv_validator_state.json, the restore fence, a malformed file.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { toHex } from '../../src/codec/bytes.ts';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { encodeSignFence } from '../../src/codec/sign-guard-record.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { openLog } from '../../src/log/wal.ts';
import { openReadOnlyLog } from '../../src/log/read-only.ts';
import { openStore } from '../../src/store.ts';
import type { VoteType } from '../../src/model/vote.ts';
import { cstore, hashTree } from './support/run.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-sign-'));
const chainId = 'sign-chain';
const privateKey = new Uint8Array(32).fill(11);
const pubkey = toHex(publicKeyOf(privateKey));
const keyFile = join(root, 'validator.key');
const signed = join(root, 'signed');
const blockA = new Uint8Array(32).fill(1);
const blockB = new Uint8Array(32).fill(2);
const signer = { privateKey, validatorId: 'v0' };

const vote = (height: number, round: number, voteType: VoteType, blockHash = blockA) => ({ validatorId: 'v0', height, round, voteType, blockHash, timestamp: 1_700_000_000_000 + height });

beforeAll(async () => {
  writeFileSync(keyFile, `${toHex(privateKey)}\n`);
  const store = await openStore({ dir: signed, chainId, signer: { ...signer, state: 'new-key' } });
  for (let h = 1; h <= 10; h++) {
    await store.signGuard.signVote(vote(h, h, 'prevote'));
    await store.signGuard.signVote(vote(h, h, 'precommit'));
  }
  await store.close();
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

let copies = 0;
function copyOfSigned(): string {
  const copy = join(root, `copy-${copies++}`);
  cpSync(signed, copy, { recursive: true });
  return copy;
}

function writeJson(name: string, value: unknown): string {
  const path = join(root, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

function doc(entries: { pubkey: string; height: number; round: number; step: string; signed?: { height: number; round: number; step: string }[] }[], chain = chainId): unknown {
  return {
    metadata: { interchange_format: 'cstore-sign-state', interchange_format_version: '1', chain_id: chain },
    data: entries.map((e) => ({
      pubkey: e.pubkey,
      watermark: { height: String(e.height), round: String(e.round), step: e.step },
      ...(e.signed === undefined ? {} : { signed: e.signed.map((s) => ({ height: String(s.height), round: String(s.round), step: s.step, sign_bytes: '00', signature: '00' })) }),
    })),
  };
}

function importInto(dir: string, file: string, ...extra: string[]) {
  return cstore(['sign-state', 'import', dir, file, '--key-file', keyFile, '--json', ...extra]);
}

async function seenLsn(dir: string): Promise<number> {
  const log = await openReadOnlyLog({ dir });
  const lsn = log.seenLsn;
  await log.close();
  return lsn;
}

/** Opens `dir` as the node would and tries to sign; resolves with 'signed', the error code, or the signature (hex) when `signature`. */
async function trySign(dir: string, v: ReturnType<typeof vote>): Promise<string> {
  const store = await openStore({ dir, chainId, signer });
  try {
    const s = await store.signGuard.signVote(v);
    return toHex(s.signature);
  } catch (err) {
    if (isStoreError(err)) return err.code;
    throw err;
  } finally {
    await store.close();
  }
}

describe('sign-state export', () => {
  it('writes the minimal form (integers as strings) and the complete form (every signature the log holds)', () => {
    const minimal = cstore(['sign-state', 'export', signed]);
    expect(minimal.status).toBe(0);
    expect(JSON.parse(minimal.stdout)).toEqual({
      metadata: { interchange_format: 'cstore-sign-state', interchange_format_version: '1', chain_id: chainId },
      data: [{ pubkey, watermark: { height: '10', round: '10', step: 'precommit' } }],
    });
    const complete = JSON.parse(cstore(['sign-state', 'export', signed, '--complete', '--key-file', keyFile]).stdout);
    expect(complete.data[0].signed).toHaveLength(20);
    expect(complete.data[0].signed[19]).toMatchObject({ height: '10', round: '10', step: 'precommit' });
    expect(complete.data[0].signed[19].signature).toMatch(/^[0-9a-f]{128}$/);
  });
});

describe('sign-state import (EIP-3076 style conformance)', () => {
  let exported: string;
  beforeAll(() => {
    exported = join(root, 'exported.json');
    expect(cstore(['sign-state', 'export', signed, '--complete', '--out', exported]).status).toBe(0);
  });

  it('into a new directory: refuses a double vote, a regression and the same data re-signed there; signs above the watermark', async () => {
    const fresh = join(root, 'fresh');
    const run = importInto(fresh, exported, '--create');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ action: 'raised', before: null, after: { height: 10, round: 10, step: 'precommit' }, publicKey: pubkey });
    expect(await trySign(fresh, vote(10, 10, 'precommit', blockB))).toBe('CONFLICT'); // double vote
    expect(await trySign(fresh, vote(9, 9, 'precommit'))).toBe('CONFLICT'); // regression
    // The same data as the original signature: the imported watermark carries no sign bytes,
    // so it is refused here (safer than EIP-3076, which lets the same signing root through).
    expect(await trySign(fresh, vote(10, 10, 'precommit'))).toBe('CONFLICT');
    expect(await trySign(fresh, vote(11, 11, 'prevote'))).toMatch(/^[0-9a-f]{128}$/);
  }, 60_000);

  it('an idempotent repeat: importing a directory\'s own export again writes nothing, and the same data re-signed there returns the stored signature', async () => {
    const dir = copyOfSigned();
    const lsn = await seenLsn(dir);
    for (let i = 0; i < 2; i++) {
      const run = importInto(dir, exported);
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ action: 'unchanged', before: { height: 10, round: 10, step: 'precommit' }, after: { height: 10, round: 10, step: 'precommit' } });
    }
    expect(await seenLsn(dir)).toBe(lsn);
    const first = await trySign(dir, vote(10, 10, 'precommit'));
    expect(first).toMatch(/^[0-9a-f]{128}$/);
    expect(await trySign(dir, vote(10, 10, 'precommit'))).toBe(first);
  }, 60_000);

  it('a wrong chain id is refused (exit 3, WRONG_CHAIN) and nothing is written', () => {
    const dir = copyOfSigned();
    const before = hashTree(dir);
    const run = importInto(dir, writeJson('other-chain.json', doc([{ pubkey, height: 50, round: 50, step: 'prevote' }], 'other-chain')));
    expect(run.status).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error WRONG_CHAIN: the import file names chain 'other-chain'.*sign-chain/);
    expect(hashTree(dir)).toEqual(before);
    expect(cstore(['sign-state', 'import', dir, exported, '--key-file', keyFile, '--chain-id', 'other-chain']).status).toBe(3);
  });

  it('merges by maxima: the highest of several entries and signatures for the key; other keys ignored; a lower import writes nothing', async () => {
    const dir = copyOfSigned();
    const other = toHex(publicKeyOf(new Uint8Array(32).fill(12)));
    const file = writeJson('merge.json', doc([
      { pubkey, height: 30, round: 30, step: 'prevote' },
      { pubkey: other, height: 1000, round: 1000, step: 'commit' },
      { pubkey, height: 25, round: 25, step: 'propose', signed: [{ height: 40, round: 40, step: 'prevote' }, { height: 12, round: 12, step: 'commit' }] },
    ]));
    const run = importInto(dir, file);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ action: 'raised', imported: { height: 40, round: 40, step: 'prevote' }, after: { height: 40, round: 40, step: 'prevote' } });
    const lsn = await seenLsn(dir);
    const lower = importInto(dir, writeJson('lower.json', doc([{ pubkey, height: 5, round: 5, step: 'commit' }])));
    expect(lower.status).toBe(0);
    expect(JSON.parse(lower.stdout)).toMatchObject({ action: 'unchanged', after: { height: 40, round: 40, step: 'prevote' } });
    expect(await seenLsn(dir)).toBe(lsn);
    expect(await trySign(dir, vote(40, 40, 'prevote'))).toBe('CONFLICT');
    expect(await trySign(dir, vote(40, 40, 'precommit'))).toMatch(/^[0-9a-f]{128}$/);
  }, 60_000);

  it('a gap: a watermark far above the directory\'s is recorded; every height in the gap is refused', async () => {
    const dir = copyOfSigned();
    const run = importInto(dir, writeJson('gap.json', doc([{ pubkey, height: 1000, round: 1000, step: 'precommit' }])));
    expect(JSON.parse(run.stdout)).toMatchObject({ action: 'raised', before: { height: 10 }, after: { height: 1000, round: 1000, step: 'precommit' } });
    expect(await trySign(dir, vote(500, 500, 'prevote'))).toBe('CONFLICT');
    expect(await trySign(dir, vote(1001, 1001, 'prevote'))).toMatch(/^[0-9a-f]{128}$/);
  }, 60_000);

  it('a higher height with a lower round than the directory\'s is refused (CONFLICT, exit 3): rounds are global', () => {
    const dir = copyOfSigned();
    const run = importInto(dir, writeJson('round-back.json', doc([{ pubkey, height: 20, round: 5, step: 'prevote' }])));
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(/^error CONFLICT: .*round/);
  });

  it('an import below the SIGNSTATE copy (the log lost its newest sign record) is refused with FRESH_SIGN_STATE, nothing written', async () => {
    const dir = copyOfSigned();
    // The copy says height 10; a log that lost its newest records is modelled by a copy raised by hand.
    const store = await openStore({ dir, chainId, signer });
    await store.signGuard.signVote(vote(11, 11, 'prevote'));
    await store.close();
    cpSync(join(dir, 'SIGNSTATE'), join(root, 'signstate-11'));
    const lowered = copyOfSigned();
    cpSync(join(root, 'signstate-11'), join(lowered, 'SIGNSTATE'));
    const before = hashTree(lowered);
    const run = importInto(lowered, writeJson('below-copy.json', doc([{ pubkey, height: 10, round: 10, step: 'commit' }])));
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(/^error FRESH_SIGN_STATE: the SIGNSTATE copy records height 11, round 11, step prevote/);
    expect(hashTree(lowered)).toEqual(before);
    const ok = importInto(lowered, writeJson('at-copy.json', doc([{ pubkey, height: 11, round: 11, step: 'prevote' }])));
    expect(ok.status).toBe(0);
  }, 60_000);

  it('imports CometBFT\'s priv_validator_state.json (height string, round and step numbers); height 0 is nothing to import', async () => {
    const fresh = join(root, 'from-cometbft');
    const file = writeJson('priv_validator_state.json', { height: '77', round: 2, step: 3, signature: 'AAAA', signbytes: '00' });
    const run = importInto(fresh, file, '--create', '--chain-id', chainId);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ format: 'cometbft', action: 'raised', after: { height: 77, round: 2, step: 'precommit' } });
    expect(await trySign(fresh, vote(77, 2, 'precommit', blockB))).toBe('CONFLICT');
    const none = importInto(fresh, writeJson('cometbft-empty.json', { height: '0', round: 0, step: 0 }));
    expect(JSON.parse(none.stdout)).toMatchObject({ action: 'nothing' });
  }, 60_000);

  it('the restore fence: an import below the snapshot height is refused with FRESH_SIGN_STATE naming it; at or above it, accepted', async () => {
    const dir = join(root, 'restored');
    const store = await openStore({ dir, chainId });
    await store.close();
    const log = await openLog({ dir });
    await log.append([{ kind: RecordKind.SignGuardFence, payload: encodeSignFence(50) }]);
    await log.close();
    const show = cstore(['sign-state', 'show', dir, '--json']);
    expect(JSON.parse(show.stdout)).toMatchObject({ fenceHeight: 50, keys: [] });
    expect(cstore(['sign-state', 'show', dir]).stdout).toContain('restored from a snapshot at height 50');
    const lsn = await seenLsn(dir);
    const low = importInto(dir, writeJson('below-fence.json', doc([{ pubkey, height: 40, round: 40, step: 'commit' }])));
    expect(low.status).toBe(3);
    expect(low.stderr).toMatch(/^error FRESH_SIGN_STATE: this directory was restored from a snapshot at height 50/);
    expect(await seenLsn(dir)).toBe(lsn);
    const ok = importInto(dir, writeJson('at-fence.json', doc([{ pubkey, height: 50, round: 50, step: 'prevote' }])));
    expect(ok.status).toBe(0);
    expect(await trySign(dir, vote(50, 50, 'precommit'))).toMatch(/^[0-9a-f]{128}$/);
  }, 60_000);

  it('refuses a malformed file (exit 64 naming the field), a missing --key-file (64), a missing file (66)', () => {
    const dir = copyOfSigned();
    const bad = { ...(doc([{ pubkey, height: 5, round: 5, step: 'prevote' }]) as object), data: [{ pubkey, watermark: { height: 5, round: '5', step: 'prevote' } }] };
    const run = importInto(dir, writeJson('bad.json', bad));
    expect(run.status).toBe(64);
    expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: data\[0\]\.watermark\.height must be a decimal integer as a string\n$/);
    expect(cstore(['sign-state', 'import', dir, exported]).status).toBe(64);
    expect(importInto(dir, join(root, 'no-such.json')).status).toBe(66);
  });
});
