/**
 * The RFC 6962 Merkle tree: known-answer roots (the Certificate Transparency test leaves), and
 * proofs checked against a direct transcription of the RFC's recursive definitions (MTH and
 * PATH) over random trees, seed printed on failure by fast-check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  emptyMerkleRoot,
  MerkleFrontier,
  merkleInclusionProof,
  merkleLeafHash,
  merkleNodeHash,
  merkleProofsPacked,
  merkleRoot,
  merkleRootOfData,
  sha256,
  verifyMerkleInclusion,
} from '../../src/codec/merkle.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

/** The leaves of the Certificate Transparency reference tests, and the root of each prefix. */
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(bytes);
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** RFC 6962 2.1: MTH, by the recursive definition. */
function mth(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return leaves[0] as Uint8Array;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return merkleNodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** RFC 6962 2.1.1: PATH(m, D[n]), by the recursive definition. */
function path(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))] : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

/** Random trees of distinct leaves (the index is appended to each datum so that no two leaves are equal). */
const leafSets = fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 70 }).map((d) => d.map((x, i) => merkleLeafHash(Uint8Array.of(...x, i))));

describe('Merkle tree (RFC 6962)', () => {
  it('hashes leaves and nodes with distinct prefixes, and the empty tree to SHA-256 of nothing', () => {
    expect(hex(emptyMerkleRoot())).toBe(CT_ROOTS[0]);
    expect(hex(merkleLeafHash(new Uint8Array(0)))).toBe(CT_ROOTS[1]);
    const a = merkleLeafHash(Uint8Array.of(1));
    expect(merkleNodeHash(a, a)).not.toEqual(merkleLeafHash(new Uint8Array([...a, ...a])));
  });

  it('produces the Certificate Transparency reference roots for every prefix of the test leaves', () => {
    for (let n = 0; n <= CT_LEAVES.length; n++) {
      expect(hex(merkleRootOfData(CT_LEAVES.slice(0, n))), `${n} leaves`).toBe(CT_ROOTS[n]);
      const frontier = new MerkleFrontier();
      for (const leaf of CT_LEAVES.slice(0, n)) frontier.append(merkleLeafHash(leaf));
      expect(hex(frontier.root()), `frontier of ${n}`).toBe(CT_ROOTS[n]);
    }
  });

  it('appends a run of equal leaves as the same tree as one append per leaf, and a run of 2^52 without a loop per leaf', () => {
    const seed = Number(process.env['MERKLE_SEED'] ?? Date.now() % 2 ** 31);
    console.log(`merkle run property seed ${seed} (replay with MERKLE_SEED=${seed})`);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 6 }), fc.boolean(), (runs, alternate) => {
        const oneByOne = new MerkleFrontier();
        const byRun = new MerkleFrontier();
        runs.forEach((count, i) => {
          const leaf = merkleLeafHash(Uint8Array.of(alternate ? i : 0, count));
          for (let j = 0; j < count; j++) oneByOne.append(leaf);
          byRun.appendRepeated(leaf, count);
          expect(byRun.size).toBe(oneByOne.size);
          expect(byRun.root()).toEqual(oneByOne.root());
        });
      }),
      { seed, numRuns: 300 },
    );
    // A damaged sequence number may claim a run this long: it must not cost one hash per leaf.
    const huge = new MerkleFrontier();
    huge.append(merkleLeafHash(Uint8Array.of(1)));
    huge.appendRepeated(merkleLeafHash(new Uint8Array(32)), 2 ** 52);
    expect(huge.size).toBe(2 ** 52 + 1);
    expect(huge.root()).toHaveLength(32);
    expect(() => huge.appendRepeated(merkleLeafHash(Uint8Array.of(2)), 2 ** 52)).toThrow(RangeError);
    expect(() => new MerkleFrontier().appendRepeated(merkleLeafHash(Uint8Array.of(2)), -1)).toThrow(RangeError);
  });

  it('gives the audit paths of the RFC definition, and each verifies (and the frontier root matches)', () => {
    fc.assert(
      fc.property(leafSets, (leaves) => {
        const root = merkleRoot(leaves);
        expect(root).toEqual(mth(leaves));
        const frontier = new MerkleFrontier();
        for (const l of leaves) frontier.append(l);
        expect(frontier.root()).toEqual(root);
        const packed = new Uint8Array(leaves.length * 32);
        leaves.forEach((l, i) => packed.set(l, i * 32));
        const indices = leaves.map((_, i) => i);
        const multi = merkleProofsPacked(packed, leaves.length, indices);
        expect(multi.root).toEqual(root);
        for (const i of indices) {
          const proof = merkleInclusionProof(leaves, i);
          expect(proof).toEqual(path(i, leaves));
          expect(multi.proofs[i]).toEqual(proof);
          expect(verifyMerkleInclusion(leaves[i] as Uint8Array, i, leaves.length, proof, root)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('rejects a proof for another index, a far larger size, another leaf or root, and any changed or dropped sibling', () => {
    fc.assert(
      fc.property(leafSets.filter((l) => l.length >= 2), fc.nat(), fc.nat(), (leaves, pick, flip) => {
        const n = leaves.length;
        const i = pick % n;
        const root = merkleRoot(leaves);
        const proof = merkleInclusionProof(leaves, i);
        const leaf = leaves[i] as Uint8Array;
        expect(verifyMerkleInclusion(leaf, (i + 1) % n, n, proof, root)).toBe(false);
        // (A proof for size n can also fit size n + 1 with the same root: the size is bound by
        // the signed head that carries both, not by the proof.)
        expect(verifyMerkleInclusion(leaf, i, n + 64, proof, root)).toBe(false);
        expect(verifyMerkleInclusion(merkleLeafHash(Uint8Array.of(7, 7, 7, 7, 7, 7, 7, 7, 7)), i, n, proof, root)).toBe(false);
        expect(verifyMerkleInclusion(leaf, i, n, proof, sha256(root))).toBe(false);
        expect(verifyMerkleInclusion(leaf, i, n, proof.slice(1), root)).toBe(false);
        expect(verifyMerkleInclusion(leaf, i, n, [...proof, root], root)).toBe(false);
        const k = flip % proof.length;
        const bent = proof.map((p, j) => (j === k ? Uint8Array.from(p, (b, x) => (x === flip % 32 ? b ^ 1 : b)) : p));
        expect(verifyMerkleInclusion(leaf, i, n, bent, root)).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('treats malformed input as a failed proof, never a throw', () => {
    const leaves = CT_LEAVES.map(merkleLeafHash);
    const root = merkleRoot(leaves);
    const proof = merkleInclusionProof(leaves, 3);
    const leaf = leaves[3] as Uint8Array;
    expect(verifyMerkleInclusion(leaf, -1, 8, proof, root)).toBe(false);
    expect(verifyMerkleInclusion(leaf, 3, 0.5, proof, root)).toBe(false);
    expect(verifyMerkleInclusion(leaf.subarray(1), 3, 8, proof, root)).toBe(false);
    expect(verifyMerkleInclusion(leaf, 3, 8, [new Uint8Array(3), ...proof.slice(1)], root)).toBe(false);
    expect(verifyMerkleInclusion(leaf, 3, 8, Array.from({ length: 65 }, () => leaf), root)).toBe(false);
    expect(() => merkleInclusionProof(leaves, 8)).toThrow(RangeError);
    expect(() => merkleProofsPacked(new Uint8Array(0), 0, [])).toThrow(RangeError);
  });
});
