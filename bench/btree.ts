/**
 * A standalone timing script for the index B+tree (src/btree/btree.ts): replay-style ascending
 * inserts, random inserts, lookups, scans, counts and pruning, with heap per entry. Run with
 * `node --expose-gc --import tsx bench/btree.ts [n] [maxNodeSize]`. It only measures; it must
 * never be part of the test suite or assert anything.
 */
import { BTree } from '../src/btree/btree.ts';
import { compareNumbers, compareStrings, tupleComparator } from '../src/btree/keys.ts';

const n = Number(process.argv[2] ?? 1_000_000);
const maxNodeSize = Number(process.argv[3] ?? 64);

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function time(label: string, run: () => unknown): void {
  const start = performance.now();
  const result = run();
  const ms = performance.now() - start;
  console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms   ${String(result ?? '')}`);
}

function shuffled(count: number): number[] {
  const out = Array.from({ length: count }, (_, i) => i);
  let seed = 12345;
  for (let i = count - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    const t = out[i] as number;
    out[i] = out[j] as number;
    out[j] = t;
  }
  return out;
}

console.log(`n=${n} maxNodeSize=${maxNodeSize} node ${process.version}`);

// Warm up the JIT on a small tree so that the first figure is not mostly compilation.
for (let r = 0; r < 3; r++) {
  const warm = new BTree<number, number>(compareNumbers, { maxNodeSize });
  for (let i = 0; i < 100_000; i++) warm.set(i, i);
}

gc();
const heapBefore = process.memoryUsage().heapUsed;
const asc = new BTree<number, number>(compareNumbers, { maxNodeSize });
time(`ascending set x${n}`, () => {
  for (let i = 0; i < n; i++) asc.set(i, i);
});
gc();
const heapAfter = process.memoryUsage().heapUsed;
console.log(`heap per entry (ascending, Smi keys/values): ${((heapAfter - heapBefore) / n).toFixed(1)} bytes`, asc.stats());

time(`get x${n} (random order)`, () => {
  let hits = 0;
  for (const k of shuffled(n)) if (asc.get(k) !== undefined) hits++;
  return hits;
});
time('full scan entries()', () => {
  let sum = 0;
  for (const [, v] of asc.entries()) sum += v;
  return sum;
});
time('full scan values()', () => {
  let sum = 0;
  for (const v of asc.values()) sum += v;
  return sum;
});
time('countRange x100k', () => {
  let total = 0;
  for (let i = 0; i < 100_000; i++) total += asc.countRange(i, i + 1000);
  return total;
});
time(`deleteBelow(${n / 2})`, () => asc.deleteBelow(n / 2));
asc.checkInvariants();

const keys = shuffled(n);
const rnd = new BTree<number, number>(compareNumbers, { maxNodeSize });
time(`random set x${n}`, () => {
  for (const k of keys) rnd.set(k, k);
});
console.log('  stats', rnd.stats());
time(`random delete x${n / 2}`, () => {
  for (let i = 0; i < n / 2; i++) rnd.delete(keys[i] as number);
});
rnd.checkInvariants();

const voteKey = tupleComparator(compareNumbers, compareStrings, compareNumbers);
const validators = Array.from({ length: 100 }, (_, i) => `validator-${String(i).padStart(3, '0')}`);
const votes = new BTree<readonly unknown[], number>(voteKey, { maxNodeSize });
const rounds = Math.ceil(n / (validators.length * 2));
time(`tuple (round, validator, type) ascending x${rounds * validators.length * 2}`, () => {
  let lsn = 0;
  for (let r = 0; r < rounds; r++) for (const v of validators) for (let t = 1; t <= 2; t++) votes.set([r, v, t], lsn++);
});
const byValidator = new BTree<readonly unknown[], number>(tupleComparator(compareStrings, compareNumbers), { maxNodeSize });
time(`tuple (validator, round) interleaved x${rounds * validators.length}`, () => {
  for (let r = 0; r < rounds; r++) for (const v of validators) byValidator.set([v, r], r);
});
console.log('  stats', byValidator.stats());
