// Known-answer vectors for the vote and proposal sign bytes (docs/format.md, "Signed and hashed bytes") and the ed25519
// wiring. The hex is written out field by field once, from the documented layout, and checked
// forever: changing the layout breaks every signature ever made, so these must never be "updated".
import { describe, expect, it } from 'vitest';
import {
  differOnlyInTimestamp,
  proposalSignBytes,
  publicKeyOf,
  signBytes,
  signVote,
  verifyBytes,
  verifyVote,
  voteSignBytes,
} from '../../src/codec/vote-sign.ts';
import { isStoreError } from '../../src/errors.ts';
import type { UnsignedVote } from '../../src/model/vote.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

const HASH_0_TO_31 = Uint8Array.from({ length: 32 }, (_, i) => i);
const vote: UnsignedVote = {
  validatorId: 'val-1',
  height: 42,
  round: 7,
  voteType: 'precommit',
  blockHash: HASH_0_TO_31,
  timestamp: 1_700_000_000_000,
};

const TAG = '4353544f52452d564f54452d5631' + '00'; // "CSTORE-VOTE-V1" NUL
const CHAIN = '000a' + '746573742d636861696e'; // u16 10, "test-chain"
const VALIDATOR = '0005' + '76616c2d31'; // u16 5, "val-1"
const HEIGHT = '000000000000002a'; // u64 42
const ROUND = '00000007'; // u32 7
const HASH = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const TIMESTAMP = '0000018bcfe56800'; // u64 1,700,000,000,000

describe('vote sign bytes', () => {
  it('match the documented layout for a precommit with a block hash', () => {
    const expected = TAG + CHAIN + VALIDATOR + HEIGHT + ROUND + '02' + '00' + HASH + TIMESTAMP;
    expect(hex(voteSignBytes(vote, 'test-chain'))).toBe(expected);
  });

  it('match the documented layout for a nil prevote (flag 1, zero hash)', () => {
    const expected = TAG + CHAIN + VALIDATOR + HEIGHT + ROUND + '01' + '01' + '00'.repeat(32) + TIMESTAMP;
    expect(hex(voteSignBytes({ ...vote, voteType: 'prevote', blockHash: null }, 'test-chain'))).toBe(expected);
  });

  it('bind the chain id: another chain gives other bytes', () => {
    expect(hex(voteSignBytes(vote, 'test-chain'))).not.toBe(hex(voteSignBytes(vote, 'test-chaim')));
  });

  it('ignore a signature field and put the timestamp last', () => {
    const a = voteSignBytes({ ...vote, signature: new Uint8Array(64) } as UnsignedVote, 'c');
    const b = voteSignBytes({ ...vote, timestamp: 5 }, 'c');
    expect(differOnlyInTimestamp(a, b)).toBe(true);
    expect(differOnlyInTimestamp(a, voteSignBytes({ ...vote, round: 8 }, 'c'))).toBe(false);
  });

  it('reject malformed votes and chain ids with INVALID_ARGUMENT', () => {
    const bad: unknown[] = [
      { ...vote, blockHash: new Uint8Array(33) },
      { ...vote, validatorId: '\ud800' },
      { ...vote, height: -1 },
      { ...vote, round: 1.5 },
      { ...vote, timestamp: '1' },
      null,
    ];
    for (const v of bad) {
      expect(() => voteSignBytes(v as UnsignedVote, 'c'), JSON.stringify(v)).toThrow();
      try {
        voteSignBytes(v as UnsignedVote, 'c');
      } catch (err) {
        expect(isStoreError(err, 'INVALID_ARGUMENT')).toBe(true);
      }
    }
    expect(() => voteSignBytes(vote, '')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => voteSignBytes(vote, 'x'.repeat(65))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('proposal sign bytes', () => {
  it('match the documented layout', () => {
    const tag = '4353544f52452d50524f504f53414c2d5631' + '00'; // "CSTORE-PROPOSAL-V1" NUL
    const pol = '00' + '00000003'; // present, round 3
    const expected = tag + CHAIN + VALIDATOR + HEIGHT + ROUND + pol + HASH + TIMESTAMP;
    const p = { validatorId: 'val-1', height: 42, round: 7, blockHash: HASH_0_TO_31, polRound: 3, timestamp: 1_700_000_000_000 };
    expect(hex(proposalSignBytes(p, 'test-chain'))).toBe(expected);
    const none = hex(proposalSignBytes({ ...p, polRound: null }, 'test-chain'));
    expect(none).toBe(tag + CHAIN + VALIDATOR + HEIGHT + ROUND + '01' + '00000000' + HASH + TIMESTAMP);
  });
});

describe('ed25519', () => {
  it('matches RFC 8032 test 1', () => {
    const secret = unhex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    const publicKey = publicKeyOf(secret);
    expect(hex(publicKey)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const sig = signBytes(new Uint8Array(0), secret);
    expect(hex(sig)).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    expect(verifyBytes(sig, new Uint8Array(0), publicKey)).toBe(true);
  });

  it('signs a vote deterministically (known answer) and verifies it', () => {
    const key = new Uint8Array(32).fill(1);
    const signed = signVote(vote, key, 'test-chain');
    expect(hex(signed.signature)).toBe(
      '595ecb8d2589877ced80044298722b26b51f36801d8d170b0b13e55aba1817ec7e8522dcd0473f45a692477e364bfb8b13abe9b45b4ccb0a374fa38d6441810f',
    );
    const publicKey = publicKeyOf(key);
    expect(hex(publicKey)).toBe('8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c');
    expect(verifyVote(signed, publicKey, 'test-chain')).toBe(true);
    expect(verifyVote(signed, publicKey, 'other-chain')).toBe(false);
    expect(verifyVote({ ...signed, round: 8 }, publicKey, 'test-chain')).toBe(false);
    expect(verifyVote({ ...signed, signature: new Uint8Array(64) }, publicKey, 'test-chain')).toBe(false);
    expect(verifyVote({ ...signed, signature: new Uint8Array(3) }, publicKey, 'test-chain')).toBe(false);
    expect(verifyVote(signed, publicKeyOf(new Uint8Array(32).fill(2)), 'test-chain')).toBe(false);
  });

  it('rejects keys of the wrong length with INVALID_ARGUMENT', () => {
    expect(() => signVote(vote, new Uint8Array(31), 'c')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => verifyVote({ ...vote, signature: new Uint8Array(64) }, new Uint8Array(33), 'c')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
