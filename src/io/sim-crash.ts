/**
 * What a power cut does to the simulated disk: decides, from the PRNG, the fate of everything
 * not yet durable, then makes the result both the durable and the current state.
 *
 * Files: each pending write is independently lost, kept whole, or torn (split into sectors at
 * absolute file offsets, each sector kept or not); each pending truncate is kept or lost. The
 * survivors are applied in their original order, so any subset of writes can survive: that is
 * how reordering by the page cache and the device is modelled, and every byte ends as its
 * durable value, zero, or the value of one of the pending writes covering it.
 *
 * Directories: a random prefix of each directory's pending entry changes survives. Metadata of
 * journaled file systems (ext4, xfs) commits in order, so a later create, rename or unlink never
 * survives without the earlier ones in the same directory. A rename across two directories
 * survives in both or in neither. An inode that no durable entry names afterwards is gone.
 *
 * This file must never look at anything but the volume and the PRNG it is given (the result
 * must depend only on the seed and the calls made), and never import `node:fs`.
 */
import type { Prng } from './prng.ts';
import { applyDirOp, applyFileOp, type DirInode, type FileInode, type Inode } from './sim-inode.ts';
import type { SimVolume } from './sim-volume.ts';

/** Sector sizes a crash tears at; one is chosen per crash. */
export const SECTOR_SIZES: readonly number[] = [512, 4096];

/** Counts of what a crash decided, added to the disk's stats. */
export interface CrashTally {
  writesLost: number;
  writesKept: number;
  writesTorn: number;
  dirOpsLost: number;
  dirOpsKept: number;
}

/** Applies a power cut to `volume`: afterwards nothing is pending and current equals durable. */
export function resolveCrash(volume: SimVolume, prng: Prng, tally: CrashTally): void {
  const sectorSize = prng.pick(SECTOR_SIZES);
  const dirs = [...volume.inodes.values()].filter((inode): inode is DirInode => inode.kind === 'dir');
  resolveDirs(dirs, prng, tally);
  const links = countDurableLinks(volume);
  for (const [id, inode] of [...volume.inodes]) {
    const count = links.get(id);
    if (count === undefined) {
      volume.inodes.delete(id);
    } else if (inode.kind === 'file') {
      resolveFile(inode, prng, sectorSize, tally);
      inode.links = count;
      inode.openHandles = 0;
    }
  }
}

/** Keeps a random prefix of each directory's pending ops, cut further so that groups stay whole. */
function resolveDirs(dirs: readonly DirInode[], prng: Prng, tally: CrashTally): void {
  const keep = new Map<DirInode, number>();
  for (const dir of dirs) keep.set(dir, prng.int(0, dir.pending.length));
  const kept = (dir: DirInode, index: number): boolean => index < (keep.get(dir) ?? 0);
  for (let changed = true; changed; ) {
    changed = false;
    for (const dir of dirs) {
      const limit = keep.get(dir) ?? 0;
      for (let i = 0; i < limit; i++) {
        const op = dir.pending[i];
        const broken = op?.group?.members.some((m) => m.dir !== dir && !kept(m.dir, m.dir.pending.indexOf(m.op)));
        if (broken === true) {
          keep.set(dir, i);
          changed = true;
          break;
        }
      }
    }
  }
  for (const dir of dirs) {
    const limit = keep.get(dir) ?? 0;
    for (const op of dir.pending.slice(0, limit)) applyDirOp(dir.durable, op);
    tally.dirOpsKept += limit;
    tally.dirOpsLost += dir.pending.length - limit;
    dir.pending = [];
    dir.current = new Map(dir.durable);
  }
}

/** How many durable entries name each inode reachable from the root (the root counts once). */
function countDurableLinks(volume: SimVolume): Map<number, number> {
  const links = new Map<number, number>([[volume.root.id, 1]]);
  const stack: Inode[] = [volume.root];
  for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
    if (dir.kind !== 'dir') continue;
    for (const id of dir.durable.values()) {
      const seen = links.get(id);
      links.set(id, (seen ?? 0) + 1);
      const child = volume.inodes.get(id);
      if (seen === undefined && child !== undefined) stack.push(child);
    }
  }
  return links;
}

/** Decides each pending op of a file and applies the survivors to its durable content. */
function resolveFile(inode: FileInode, prng: Prng, sectorSize: number, tally: CrashTally): void {
  for (const op of inode.pending) {
    if (op.kind === 'truncate') {
      if (prng.bool()) applyFileOp(inode.durable, op);
      continue;
    }
    const fate = prng.int(0, 2);
    if (fate === 0) {
      tally.writesLost++;
    } else if (fate === 1) {
      tally.writesKept++;
      applyFileOp(inode.durable, op);
    } else {
      tally.writesTorn++;
      for (const piece of sectorPieces(op.offset, op.bytes.length, sectorSize)) {
        if (prng.bool()) inode.durable.write(piece.start, op.bytes.subarray(piece.start - op.offset, piece.end - op.offset));
      }
    }
  }
  inode.pending = [];
  inode.current = inode.durable.clone();
}

/** The pieces of [offset, offset + length) cut at multiples of `sectorSize`. */
export function sectorPieces(offset: number, length: number, sectorSize: number): Array<{ start: number; end: number }> {
  const pieces: Array<{ start: number; end: number }> = [];
  const end = offset + length;
  for (let start = offset; start < end; ) {
    const next = Math.min(end, (Math.floor(start / sectorSize) + 1) * sectorSize);
    pieces.push({ start, end: next });
    start = next;
  }
  return pieces;
}
