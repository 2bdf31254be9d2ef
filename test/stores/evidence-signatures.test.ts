/**
 * The fast ed25519 path (node:crypto) against the reference (@noble/ed25519, RFC 8032 mode):
 * both must accept the RFC 8032 vectors and random signatures, and both must refuse tampered
 * messages, tampered signatures, S + L (non-canonical S), small-order and non-point keys.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyEd25519Fast } from '../../src/codec/evidence-verify.ts';

ed.hashes.sha512 = sha512;

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const reference = (sig: Uint8Array, msg: Uint8Array, key: Uint8Array): boolean => {
  try {
    return ed.verify(sig, msg, key, { zip215: false });
  } catch {
    return false;
  }
};

/** RFC 8032 section 7.1, tests 1 to 3: secret key, public key, message, signature. */
const RFC_8032 = [
  [
    '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    '',
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  ],
  [
    '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    '72',
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  ],
  [
    'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    'af82',
    '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  ],
] as const;

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

describe('ed25519: node:crypto fast path agrees with @noble/ed25519 (RFC 8032 mode)', () => {
  it('accepts the RFC 8032 vectors, and refuses them with a flipped bit anywhere', () => {
    for (const [secret, publicKey, message, signature] of RFC_8032) {
      const [pk, msg, sig] = [hex(publicKey), hex(message), hex(signature)];
      expect(hex(Buffer.from(ed.getPublicKey(hex(secret))).toString('hex'))).toEqual(pk);
      expect(verifyEd25519Fast(sig, msg, pk)).toBe(true);
      expect(reference(sig, msg, pk)).toBe(true);
      for (let bit = 0; bit < 512; bit += 37) {
        const bad = sig.slice();
        bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
        expect(verifyEd25519Fast(bad, msg, pk)).toBe(reference(bad, msg, pk));
        expect(verifyEd25519Fast(bad, msg, pk)).toBe(false);
      }
    }
  });

  it('refuses a non-canonical S (S + L) on both paths', () => {
    const [, publicKey, message, signature] = RFC_8032[1];
    const sig = hex(signature);
    const s = BigInt(`0x${Buffer.from(sig.slice(32)).reverse().toString('hex')}`) + L;
    sig.set(Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse(), 32);
    expect(verifyEd25519Fast(sig, hex(message), hex(publicKey))).toBe(false);
    expect(reference(sig, hex(message), hex(publicKey))).toBe(false);
  });

  it('refuses a small-order public key that OpenSSL alone would accept', () => {
    const identity = hex('0100000000000000000000000000000000000000000000000000000000000000');
    const sig = new Uint8Array(64);
    sig.set(identity, 0);
    expect(reference(sig, hex('72'), identity)).toBe(false);
    expect(verifyEd25519Fast(sig, hex('72'), identity)).toBe(false);
  });

  it('agrees on random keys, messages and one-byte tampering of message, signature or key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(3), (secret, msg, where, what) => {
        const pk = ed.getPublicKey(secret);
        const sig = ed.sign(msg, secret);
        expect(verifyEd25519Fast(sig, msg, pk)).toBe(true);
        const [s, m, k] = [sig.slice(), msg.slice(), pk.slice()];
        if (what === 0) s[where % 64] = (s[where % 64] as number) ^ 0x01;
        else if (what === 1 && m.length > 0) m[where % m.length] = (m[where % m.length] as number) ^ 0x80;
        else if (what === 2) k[where % 32] = (k[where % 32] as number) ^ 0x02;
        else s[32 + (where % 32)] = 0xff;
        expect(verifyEd25519Fast(s, m, k)).toBe(reference(s, m, k));
      }),
      { numRuns: 150, verbose: 1 },
    );
  });

  it('returns false, never throws, for wrong lengths and keys that are not points', () => {
    const [, publicKey, message, signature] = RFC_8032[0];
    expect(verifyEd25519Fast(hex(signature).slice(1), hex(message), hex(publicKey))).toBe(false);
    expect(verifyEd25519Fast(hex(signature), hex(message), hex(publicKey).slice(1))).toBe(false);
    const notAPoint = new Uint8Array(32).fill(0xff);
    expect(verifyEd25519Fast(hex(signature), hex(message), notAPoint)).toBe(reference(hex(signature), hex(message), notAPoint));
  });
});
