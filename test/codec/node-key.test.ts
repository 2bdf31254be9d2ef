/**
 * The node key: node:crypto (fast path) and @noble/ed25519 (reference) sign identically and
 * verify identically, on the RFC 8032 test vectors, on random messages with random damage, and
 * on the edge cases where libraries differ (non-canonical S, non-canonical and small-order
 * points), where both follow the strict rule of src/codec/node-key.ts. The key file:
 * test/stores/node-key-file.test.ts.
 */
import * as ed from '@noble/ed25519';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ed25519PublicKey,
  generateNodeKey,
  signEd25519,
  signEd25519Reference,
  verifyEd25519,
  verifyEd25519Reference,
} from '../../src/codec/node-key.ts';

const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

/** RFC 8032 section 7.1, tests 1-3 and SHA(abc). */
const RFC8032 = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

function bothVerify(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  const fast = verifyEd25519(sig, msg, pub);
  const reference = verifyEd25519Reference(sig, msg, pub);
  expect(fast, 'node:crypto and @noble disagree').toBe(reference);
  return fast;
}

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function withS(sig: Uint8Array, s: bigint): Uint8Array {
  const out = sig.slice();
  for (let i = 0; i < 32; i++) out[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
  return out;
}

function sOf(sig: Uint8Array): bigint {
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i] as number);
  return s;
}

const SMALL_ORDER_CANONICAL = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
];

describe('ed25519: node:crypto and @noble agree', () => {
  it('sign and verify the RFC 8032 vectors byte for byte', () => {
    for (const v of RFC8032) {
      const secret = bytes(v.secret);
      const message = bytes(v.message);
      expect(Buffer.from(ed25519PublicKey(secret)).toString('hex')).toBe(v.public);
      expect(Buffer.from(signEd25519(message, secret)).toString('hex')).toBe(v.signature);
      expect(Buffer.from(signEd25519Reference(message, secret)).toString('hex')).toBe(v.signature);
      expect(bothVerify(bytes(v.signature), message, bytes(v.public))).toBe(true);
      expect(bothVerify(bytes(v.signature), Uint8Array.of(...message, 0), bytes(v.public))).toBe(false);
    }
  });

  it('agree on random messages, keys and single-bit damage to signature, message or key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.constantFrom('sig', 'msg', 'key', 'none'), (secret, msg, at, part) => {
        const pub = ed25519PublicKey(secret);
        const sig = signEd25519(msg, secret);
        expect(sig).toEqual(signEd25519Reference(msg, secret));
        const flip = (b: Uint8Array): Uint8Array => (b.length === 0 ? Uint8Array.of(1) : Uint8Array.from(b, (x, i) => (i === at % b.length ? x ^ (1 << at % 8) : x)));
        const ok = bothVerify(part === 'sig' ? flip(sig) : sig, part === 'msg' ? flip(msg) : msg, part === 'key' ? flip(pub) : pub);
        expect(ok).toBe(part === 'none');
      }),
      { numRuns: 120 },
    );
  });

  it('both reject a malleated signature (S + L) and accept the canonical one', () => {
    const secret = bytes(RFC8032[1]?.secret as string);
    const msg = Uint8Array.of(1, 2, 3);
    const sig = signEd25519(msg, secret);
    const pub = ed25519PublicKey(secret);
    expect(bothVerify(sig, msg, pub)).toBe(true);
    expect(bothVerify(withS(sig, sOf(sig) + L), msg, pub)).toBe(false);
  });

  it('both reject small-order public keys and R values (the list checked against @noble)', () => {
    for (const h of SMALL_ORDER_CANONICAL) {
      expect(ed.Point.fromHex(h).isSmallOrder(), h).toBe(true);
      const point = bytes(h);
      const forged = new Uint8Array(64);
      forged.set(point, 0);
      expect(bothVerify(forged, Uint8Array.of(1), point)).toBe(false);
      expect(bothVerify(forged, new Uint8Array(0), point)).toBe(false);
    }
  });

  it('both reject a non-canonical encoding (y >= p) of the key', () => {
    const nonCanonical = new Uint8Array(32).fill(0xff);
    nonCanonical[0] = 0xee;
    nonCanonical[31] = 0x7f;
    const sig = new Uint8Array(64);
    sig[0] = 1;
    expect(bothVerify(sig, Uint8Array.of(1), nonCanonical)).toBe(false);
  });

  it('both return false, never throw, on wrong lengths', () => {
    const { privateKey, publicKey } = generateNodeKey();
    const sig = signEd25519(Uint8Array.of(5), privateKey);
    expect(bothVerify(sig.subarray(1), Uint8Array.of(5), publicKey)).toBe(false);
    expect(bothVerify(sig, Uint8Array.of(5), publicKey.subarray(1))).toBe(false);
    expect(() => signEd25519(Uint8Array.of(5), privateKey.subarray(1))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
