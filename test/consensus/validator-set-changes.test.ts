// Validator-set changes through blocks (docs/devnet.md, "Validator-set changes"): a block
// without transactions keeps its version-1 hash; slash transactions are checked against the set
// of the next height; the wire decoding refuses malformed ones; each height is weighed by its own
// set (a removed validator's votes and precommits count for nothing); and both storage ports put
// a slash decided in the block at H into effect at exactly H + 2, once, counting only changes
// decided through blocks.
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/codec/bytes.ts';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import { sinksFromStores } from '../../src/consensus/accountability-sinks.ts';
import { blockHash, blockTxsProblem, bondStake, GENESIS_PARENT_HASH, MAX_BLOCK_TXS, signBond, signUnbond } from '../../src/consensus/block.ts';
import { buildCertificate, checkCertificate } from '../../src/consensus/certificate.ts';
import { decodeMessage, encodeMessage } from '../../src/consensus/codec.ts';
import { MemoryStoragePort, MemoryStorageState } from '../../src/consensus/memory-storage.ts';
import { BLOCK_DECIDED_REASON, StoreStoragePort } from '../../src/consensus/store-adapter.ts';
import { VoteTally } from '../../src/consensus/tally.ts';
import type { Block, EquivocationPair, ValidatorTx } from '../../src/consensus/types.ts';
import { ValidatorSet } from '../../src/consensus/validator-set.ts';
import type { VoteType } from '../../src/model/vote.ts';
import { memoryBackend } from '../support/store-backends.ts';
import { CHAIN_ID, keyOf } from './cluster.ts';

const validators = [0, 1, 2, 3].map((i) => ({ validatorId: `v${i}`, publicKey: publicKeyOf(keyOf(i)), stake: 100n }));
const all = new ValidatorSet(validators, CHAIN_ID);
const withoutV3 = new ValidatorSet(validators.slice(0, 3), CHAIN_ID);
const hashA = new Uint8Array(32).fill(1);
const hashB = new Uint8Array(32).fill(2);

function vote(i: number, height: number, round: number, voteType: VoteType, blockHash: Uint8Array | null, key = keyOf(i)) {
  return signVote({ validatorId: `v${i}`, height, round, voteType, blockHash, timestamp: 1_000 }, key, CHAIN_ID);
}
function pairOf(i: number, height = 5, round = 10): EquivocationPair {
  return { voteA: vote(i, height, round, 'prevote', hashA), voteB: vote(i, height, round, 'prevote', hashB) };
}
const slashV3: ValidatorTx = { type: 'slash', evidence: pairOf(3) };
const block = (txs?: ValidatorTx[]): Block => ({ height: 6, round: 12, proposer: 'v0', parentHash: GENESIS_PARENT_HASH, ...(txs === undefined ? {} : { txs }) });

describe('block hashes', () => {
  it('a block without transactions hashes as before transactions existed (version 1)', () => {
    const b = { height: 37, round: 112, proposer: 'v2', parentHash: new Uint8Array(32).fill(7) };
    // The hash the version before transactions gave for this block.
    expect(toHex(blockHash(b, 'devnet-chain'))).toBe('3f5c529e74250cd01a17d4c7ef11ef6a89324cd218559ff9987ae42e6e3c402b');
  });

  it('covers the transactions, whatever the order of a pair', () => {
    const plain = toHex(blockHash(block(), CHAIN_ID));
    const withTx = toHex(blockHash(block([slashV3]), CHAIN_ID));
    const swapped = toHex(blockHash(block([{ type: 'slash', evidence: { voteA: slashV3.evidence.voteB, voteB: slashV3.evidence.voteA } }]), CHAIN_ID));
    expect(withTx).not.toBe(plain);
    expect(swapped).toBe(withTx);
    expect(toHex(blockHash(block([{ type: 'slash', evidence: pairOf(3, 5, 11) }]), CHAIN_ID))).not.toBe(withTx);
  });
});

describe('the transactions of a block, against the set of the next height', () => {
  it('hold for a proven equivocation of a validator still in the set', () => {
    expect(blockTxsProblem(block(), all, CHAIN_ID)).toBeUndefined();
    expect(blockTxsProblem(block([slashV3]), all, CHAIN_ID)).toBeUndefined();
  });

  it('do not hold otherwise, each case named', () => {
    const p = slashV3.evidence;
    const cases: [ValidatorTx[], RegExp][] = [
      [[], /carries none/],
      [Array.from({ length: MAX_BLOCK_TXS + 1 }, (_, i) => ({ type: 'slash' as const, evidence: pairOf(i % 4, 5, i) })), /more than 8/],
      [[slashV3, { type: 'slash', evidence: pairOf(3, 5, 11) }], /a second transaction for v3/],
      [[{ type: 'slash', evidence: pairOf(3, 7) }], /above the block's height/],
      [[{ type: 'slash', evidence: { voteA: p.voteA, voteB: vote(2, 5, 10, 'prevote', hashB) } }], /different validators/],
      [[{ type: 'slash', evidence: { voteA: p.voteA, voteB: vote(3, 5, 11, 'prevote', hashB) } }], /not of one round and vote type/],
      [[{ type: 'slash', evidence: { voteA: p.voteA, voteB: vote(3, 5, 10, 'precommit', hashB) } }], /not of one round and vote type/],
      [[{ type: 'slash', evidence: { voteA: vote(3, 5, 10, 'commit', hashA), voteB: vote(3, 5, 10, 'commit', hashB) } }], /not slashable/],
      [[{ type: 'slash', evidence: { voteA: p.voteA, voteB: p.voteA } }], /do not conflict/],
      [[{ type: 'slash', evidence: { voteA: p.voteA, voteB: vote(3, 5, 10, 'prevote', hashB, keyOf(9)) } }], /signature does not verify/],
    ];
    for (const [txs, problem] of cases) expect(blockTxsProblem(block(txs), all, CHAIN_ID)).toMatch(problem);
    // v3 already out of the next height's set (removed, or its removal already decided).
    expect(blockTxsProblem(block([slashV3]), withoutV3, CHAIN_ID)).toMatch(/v3 is not in the validator set/);
  });

  it('travel on the wire, and malformed ones are refused (INVALID_ARGUMENT)', () => {
    const message = { type: 'certificate' as const, round: 12, block: block([slashV3]), precommits: [] };
    const decoded = decodeMessage(encodeMessage(message));
    expect(decoded.type === 'certificate' && toHex(blockHash(decoded.block, CHAIN_ID))).toBe(toHex(blockHash(block([slashV3]), CHAIN_ID)));
    const bad = (txs: unknown) => () => decodeMessage(encodeMessage({ ...message, block: { ...block(), txs } as unknown as Block }));
    expect(bad([])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(bad(Array.from({ length: MAX_BLOCK_TXS + 1 }, () => slashV3))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(bad([{ type: 'join', evidence: slashV3.evidence }])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(bad([{ type: 'slash' }])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(bad([{ type: 'slash', evidence: { voteA: slashV3.evidence.voteA, voteB: { ...slashV3.evidence.voteB, signature: new Uint8Array(3) } } }])).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

describe('each height weighed by its own set', () => {
  // v3 removed from height 5 on.
  const setOf = (h: number): ValidatorSet | undefined => (h > 6 ? undefined : h >= 5 ? withoutV3 : all);

  it('a removed validator\'s votes do not count, the quorum is of the set left, and an unknown height counts nothing', () => {
    const tally = new VoteTally(setOf);
    expect(tally.add(vote(3, 4, 7, 'prevote', hashA))).toBe(true);
    expect(tally.add(vote(3, 5, 8, 'prevote', hashA))).toBe(false);
    expect(tally.add(vote(0, 5, 8, 'prevote', hashA))).toBe(true);
    expect(tally.add(vote(1, 5, 8, 'prevote', hashA))).toBe(true);
    expect(tally.summary(5, 8, 'prevote').quorumFor).toBeUndefined();
    expect(tally.add(vote(2, 5, 8, 'prevote', hashA))).toBe(true);
    expect(tally.summary(5, 8, 'prevote').quorumFor).toBe(toHex(hashA));
    expect(tally.add(vote(0, 7, 9, 'prevote', hashA))).toBe(false);
    expect(tally.summary(7, 9, 'prevote')).toEqual({ quorumFor: undefined, quorumAny: false });
    expect(tally.roundsAheadWithOneThird(7, 0)).toEqual([]);
  });

  it('a certificate naming a removed validator\'s precommit is refused; one built leaves it out', () => {
    const b: Block = { height: 5, round: 8, proposer: 'v0', parentHash: GENESIS_PARENT_HASH };
    const h = blockHash(b, CHAIN_ID);
    const precommits = [0, 1, 2, 3].map((i) => vote(i, 5, 8, 'precommit', h));
    expect(checkCertificate({ type: 'certificate', round: 8, block: b, precommits }, withoutV3, CHAIN_ID)).toBeUndefined();
    const built = buildCertificate(b, 8, precommits, withoutV3, CHAIN_ID);
    expect(built?.precommits.map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2']);
    expect(checkCertificate(built!, withoutV3, CHAIN_ID)).toEqual(h);
    expect(buildCertificate(b, 8, precommits.slice(0, 2), withoutV3, CHAIN_ID)).toBeUndefined();
  });
});

describe('the memory port', () => {
  it('puts a slash decided in the block at H into effect at exactly H + 2, once', async () => {
    const port = new MemoryStoragePort({ validatorId: 'v0', privateKey: keyOf(0) }, CHAIN_ID, new MemoryStorageState(validators));
    expect((await port.validatorsAt(0)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect(await port.applyValidatorTxs(10, [slashV3])).toEqual({ added: [], removed: ['v3'] });
    expect((await port.validatorsAt(11)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect((await port.validatorsAt(12)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2']);
    expect(await port.applyValidatorTxs(10, [slashV3])).toEqual({ added: [], removed: [] });
    expect(port.state.slashes).toEqual([{ validatorId: 'v3', height: 12, decidedAt: 10 }]);
    expect(port.state.committedEvidence).toHaveLength(1);
  });

  it('refuses a bad height, a list that is not one, and a transaction that proves nothing (INVALID_ARGUMENT)', async () => {
    const port = new MemoryStoragePort({ validatorId: 'v0', privateKey: keyOf(0) }, CHAIN_ID, new MemoryStorageState(validators));
    await expect(port.validatorsAt(-1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(port.applyValidatorTxs(1.5, [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(port.applyValidatorTxs(1, 'x' as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const forged: ValidatorTx = { type: 'slash', evidence: { voteA: slashV3.evidence.voteA, voteB: vote(3, 5, 10, 'prevote', hashB, keyOf(9)) } };
    await expect(port.applyValidatorTxs(1, [forged])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const empty = new MemoryStoragePort({ validatorId: 'v0', privateKey: keyOf(0) }, CHAIN_ID);
    await expect(empty.applyValidatorTxs(1, [slashV3])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(port.state.slashes).toEqual([]);
  });
});

describe('the port over the real stores', () => {
  async function open() {
    const medium = memoryBackend(CHAIN_ID).medium();
    const store = await medium.open();
    for (const v of validators) await store.validators.registerValidator(v, 0);
    return { medium, store, port: new StoreStoragePort(store, CHAIN_ID, sinksFromStores(store, 'v0')) };
  }

  it('records the slash of the block at H in the registry in effect at H + 2, once, also after a reopen', async () => {
    const { medium, store, port } = await open();
    expect(await port.applyValidatorTxs(10, [slashV3])).toEqual({ added: [], removed: ['v3'] });
    expect((await port.validatorsAt(11)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect((await port.validatorsAt(12)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2']);
    expect(await port.applyValidatorTxs(10, [slashV3])).toEqual({ added: [], removed: [] });
    const slashes = (await store.validators.getValidatorHistory('v3')).items.filter((c) => c.kind === 'slash');
    expect(slashes).toHaveLength(1);
    expect(slashes[0]).toMatchObject({ height: 12, after: { status: 'tombstoned', stake: 95n } });
    expect(slashes[0]!.reason?.startsWith(`${BLOCK_DECIDED_REASON}10:`)).toBe(true);
    // Its evidence, carried by a finalized block, is stored as verified by a quorum.
    expect(await store.evidence.queryByValidator('v3')).toEqual([expect.objectContaining({ verifiedByQuorum: true, status: 'verified' })]);
    await store.close();
    const reopened = await medium.open();
    const again = new StoreStoragePort(reopened, CHAIN_ID);
    expect((await again.validatorsAt(11)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect((await again.validatorsAt(12)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2']);
    await reopened.close();
  });

  it('weighs only changes decided through blocks: a slash recorded at a detection height (earlier versions) changes no set', async () => {
    const { store, port } = await open();
    await store.validators.recordSlash({ validatorId: 'v2', height: 3, fraction: { numerator: 5n, denominator: 100n }, reason: 'equivocation: two prevotes in round 4', status: 'tombstoned' });
    expect((await port.validatorsAt(100)).map((v) => `${v.validatorId}:${v.stake}`)).toEqual(['v0:100', 'v1:100', 'v2:100', 'v3:100']);
    // Its evidence in a block removes it, two heights later, though the registry already says tombstoned.
    expect(await port.applyValidatorTxs(20, [{ type: 'slash', evidence: pairOf(2) }])).toEqual({ added: [], removed: ['v2'] });
    expect((await port.validatorsAt(21)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect((await port.validatorsAt(22)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v3']);
    await store.close();
  });

  it('refuses a bad height or list (INVALID_ARGUMENT) and a slash of a validator it does not know (NOT_FOUND), writing nothing', async () => {
    const { store, port } = await open();
    await expect(port.validatorsAt(2 ** 53)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(port.applyValidatorTxs(-1, [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(port.applyValidatorTxs(1, {} as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const stranger = { voteA: vote(7, 5, 10, 'prevote', hashA), voteB: vote(7, 5, 10, 'prevote', hashB) };
    await expect(port.applyValidatorTxs(1, [{ type: 'slash', evidence: stranger }])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    for (const v of validators) expect((await store.validators.getValidatorHistory(v.validatorId)).items).toHaveLength(1);
    await store.close();
  });
});

describe('bond and unbond', () => {
  const registered = new Map(validators.map((v) => [v.validatorId, v.publicKey]));
  const bondV4 = signBond({ validatorId: 'v4', publicKey: publicKeyOf(keyOf(4)), stake: '250' }, keyOf(4), CHAIN_ID);
  const unbondV2 = signUnbond('v2', keyOf(2), CHAIN_ID);

  it('hold: a new id and key signed by that key, an unbond signed by a validator of the set', () => {
    expect(blockTxsProblem(block([bondV4, unbondV2]), all, CHAIN_ID, registered)).toBeUndefined();
    expect(bondStake('340282366920938463463374607431768211455')).toBe((1n << 128n) - 1n);
  });

  it('do not hold otherwise, each case named', () => {
    const cases: [ValidatorTx[], RegExp, ReadonlyMap<string, Uint8Array> | undefined][] = [
      [[bondV4], /no registry view/, undefined],
      [[signBond({ validatorId: 'v1', publicKey: publicKeyOf(keyOf(4)), stake: '1' }, keyOf(4), CHAIN_ID)], /v1 is already registered/, registered],
      [[signBond({ validatorId: 'v4', publicKey: publicKeyOf(keyOf(0)), stake: '1' }, keyOf(0), CHAIN_ID)], /already v0's/, registered],
      [[{ ...bondV4, stake: '251' }], /signature does not verify/, registered],
      [[signBond({ validatorId: 'v4', publicKey: publicKeyOf(keyOf(4)), stake: '0' }, keyOf(4), CHAIN_ID)], /not a positive decimal/, registered],
      [[signBond({ validatorId: 'v4', publicKey: publicKeyOf(keyOf(4)), stake: (1n << 128n).toString() }, keyOf(4), CHAIN_ID)], /not a positive decimal/, registered],
      [[bondV4, signBond({ validatorId: 'v5', publicKey: publicKeyOf(keyOf(4)), stake: '1' }, keyOf(4), CHAIN_ID)], /a second bond with this public key/, registered],
      [[signUnbond('v9', keyOf(9), CHAIN_ID)], /v9 is not in the validator set/, registered],
      [[{ ...unbondV2, signature: signUnbond('v2', keyOf(1), CHAIN_ID).signature }], /signature does not verify/, registered],
      [[0, 1, 2, 3].map((i) => signUnbond(`v${i}`, keyOf(i), CHAIN_ID)), /remove every validator/, registered],
    ];
    for (const [txs, problem, known] of cases) expect(blockTxsProblem(block(txs), all, CHAIN_ID, known)).toMatch(problem);
    expect(bondStake('01')).toBeUndefined();
  });

  it('travel on the wire, and malformed ones are refused (INVALID_ARGUMENT)', () => {
    const message = { type: 'certificate' as const, round: 12, block: block([bondV4, unbondV2]), precommits: [] };
    const decoded = decodeMessage(encodeMessage(message));
    expect(decoded.type === 'certificate' && toHex(blockHash(decoded.block, CHAIN_ID))).toBe(toHex(blockHash(block([bondV4, unbondV2]), CHAIN_ID)));
    const bad = (tx: unknown) => () => decodeMessage(encodeMessage({ ...message, block: { ...block(), txs: [tx] } as unknown as Block }));
    for (const tx of [{ ...bondV4, stake: 250 }, { ...bondV4, stake: '-1' }, { ...bondV4, publicKey: new Uint8Array(31) }, { ...bondV4, validatorId: '' }, { type: 'unbond', validatorId: 'v2' }]) {
      expect(bad(tx)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('the memory port: the bonded validator joins at H + 2, the unbonded one leaves at H + 2, each once', async () => {
    const port = new MemoryStoragePort({ validatorId: 'v0', privateKey: keyOf(0) }, CHAIN_ID, new MemoryStorageState(validators));
    expect(await port.applyValidatorTxs(10, [bondV4])).toEqual({ added: ['v4'], removed: [] });
    expect(await port.applyValidatorTxs(10, [bondV4])).toEqual({ added: [], removed: [] });
    expect((await port.validatorsAt(11)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect((await port.validatorsAt(12)).map((v) => `${v.validatorId}:${v.stake}`)).toEqual(['v0:100', 'v1:100', 'v2:100', 'v3:100', 'v4:250']);
    expect((await port.registeredValidators()).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    expect(await port.applyValidatorTxs(20, [unbondV2])).toEqual({ added: [], removed: ['v2'] });
    expect(await port.applyValidatorTxs(20, [unbondV2])).toEqual({ added: [], removed: [] });
    expect((await port.validatorsAt(21)).map((v) => v.validatorId)).toContain('v2');
    expect((await port.validatorsAt(22)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v3', 'v4']);
    const forged = signBond({ validatorId: 'v5', publicKey: publicKeyOf(keyOf(5)), stake: '1' }, keyOf(6), CHAIN_ID);
    await expect(port.applyValidatorTxs(30, [forged])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(port.applyValidatorTxs(30, [{ ...unbondV2, validatorId: 'v1' }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('the port over the real stores: registered from H + 2, inactive from H + 2, once, also after a reopen; a known id with another key is CONFLICT, an unknown unbond NOT_FOUND', async () => {
    const medium = memoryBackend(CHAIN_ID).medium();
    const store = await medium.open();
    for (const v of validators) await store.validators.registerValidator(v, 0);
    const port = new StoreStoragePort(store, CHAIN_ID);
    expect(await port.applyValidatorTxs(10, [bondV4])).toEqual({ added: ['v4'], removed: [] });
    expect(await port.applyValidatorTxs(10, [bondV4])).toEqual({ added: [], removed: [] });
    expect(await port.applyValidatorTxs(20, [unbondV2])).toEqual({ added: [], removed: ['v2'] });
    expect(await port.applyValidatorTxs(20, [unbondV2])).toEqual({ added: [], removed: [] });
    const check = async (p: StoreStoragePort): Promise<void> => {
      expect((await p.validatorsAt(11)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2', 'v3']);
      expect((await p.validatorsAt(12)).map((v) => `${v.validatorId}:${v.stake}`)).toEqual(['v0:100', 'v1:100', 'v2:100', 'v3:100', 'v4:250']);
      expect((await p.validatorsAt(21)).map((v) => v.validatorId)).toContain('v2');
      expect((await p.validatorsAt(22)).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v3', 'v4']);
      expect((await p.registeredValidators()).map((v) => v.validatorId)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    };
    await check(port);
    const other = signBond({ validatorId: 'v4', publicKey: publicKeyOf(keyOf(7)), stake: '1' }, keyOf(7), CHAIN_ID);
    await expect(port.applyValidatorTxs(30, [other])).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(port.applyValidatorTxs(30, [signUnbond('v8', keyOf(8), CHAIN_ID)])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await store.close();
    const reopened = await medium.open();
    await check(new StoreStoragePort(reopened, CHAIN_ID));
    await reopened.close();
  });
});
