/**
 * `npm run bench -- storage` (docs/bench-notes.md, The scenarios): bytes on disk per 100,000 blocks, for 21
 * and for 100 validators (the specification: under 1 GB per 100,000 blocks), extrapolated
 * linearly from a measured run of 10,000 blocks (100 with --quick, which says so).
 *
 * Per block, through the stores' own APIs: every validator's prevote and precommit, a round
 * checkpoint, 4 audit events and a reward distribution (bench/lib/workload.ts), written with
 * durability 'none' (the bytes are the same as with fsync; only the time differs), 8 blocks in
 * flight. consensus-store's segments are preallocated: the bytes that count are those up to the
 * end of the last record of each segment (walked frame by frame); the preallocated space after
 * it, and the next segment created ahead of need, are reported separately.
 *
 * The peers hold the same blocks (2,000 blocks; 40 with --quick), in their fast fill mode:
 * SQLite's database after a WAL checkpoint, LevelDB's directory as it stands after close, and
 * PostgreSQL's tables with their indexes (pg_total_relation_size; its WAL is not counted).
 *
 * A second table, the "engine mix" (bench/scenarios/storage-engine-mix.ts), stores per block
 * what the reference engine writes on one node (every validator's votes signed for real, the
 * audit entries with their signed heads, five checkpoints, sign-guard entries, the finalization
 * mark, the reward distribution), hot segments, images and snapshots listed apart, against the
 * signature floor and LevelDB holding the same records; this table's rows stay as they were.
 *
 * Must never: count preallocated zeros as used, or extrapolate from fewer blocks than it says.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readU32, recordSpan, SEGMENT_HEADER_BYTES } from '../../src/codec/framing.ts';
import type { BenchContext } from '../lib/context.ts';
import { formatNumber } from '../lib/table.ts';
import { accountabilityOf, loadOpenStore, missingNote, openEngine, openPeers } from '../lib/systems.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';
import { BlockFactory } from '../lib/workload.ts';
import { PgPeer } from '../lib/peer-stores.ts';
import { runEngineMixStorage } from './storage-engine-mix.ts';
import { runRetentionStorage } from './storage-retention.ts';

const PER = 100_000;
const IN_FLIGHT = 8;
const GB = 1e9;

/** Bytes of a segment up to the end of its last record (frames walked from the header on). */
function usedBytesOfSegment(path: string): number {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(8);
    let pos = SEGMENT_HEADER_BYTES;
    for (;;) {
      if (pos + 8 > size) return pos;
      readSync(fd, header, 0, 8, pos);
      const length = readU32(header, 0);
      if (length === 0) return pos;
      const next = pos + recordSpan(length);
      if (next > size) return pos;
      pos = next;
    }
  } finally {
    closeSync(fd);
  }
}

interface DiskUse {
  readonly used: number;
  readonly fileBytes: number;
  readonly allocated: number;
  readonly files: number;
}

function walk(dir: string, visit: (path: string) => void): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p, visit);
    else if (entry.isFile()) visit(p);
  }
}

/** consensus-store's directory: used bytes (segments walked; other files whole), file sizes, blocks allocated. */
function engineDiskUse(dir: string): DiskUse {
  let used = 0;
  let fileBytes = 0;
  let allocated = 0;
  let files = 0;
  walk(dir, (p) => {
    const st = statSync(p);
    files++;
    fileBytes += st.size;
    allocated += st.blocks * 512;
    used += p.includes(`${join(dir, 'wal')}`) ? usedBytesOfSegment(p) : st.size;
  });
  return { used, fileBytes, allocated, files };
}

function dirBytes(dir: string): number {
  let n = 0;
  walk(dir, (p) => {
    n += statSync(p).size;
  });
  return n;
}

async function engineRun(validators: number, blocks: number): Promise<{ use: DiskUse; ms: number; source: string }> {
  const dir = makeTempDir(`storage-cs-${validators}`);
  try {
    const store = await openEngine(dir, 'none');
    const acc = await accountabilityOf(store);
    const factory = new BlockFactory(validators);
    const t = performance.now();
    const writeBlock = async (): Promise<void> => {
      const b = factory.next();
      const ps: Promise<unknown>[] = b.votes.map((v) => store.votes.appendVote(v));
      ps.push(store.rounds.saveRoundState(b.checkpoint));
      for (const e of b.audit) ps.push(acc.logEvent(e));
      ps.push(acc.recordDistribution(b.reward));
      await Promise.all(ps);
    };
    const window = new Set<Promise<void>>();
    for (let i = 0; i < blocks; i++) {
      const p = writeBlock();
      window.add(p);
      void p.finally(() => window.delete(p)).catch(() => undefined);
      if (window.size >= IN_FLIGHT) await Promise.race(window);
    }
    await Promise.all(window);
    const ms = performance.now() - t;
    await store.close();
    return { use: engineDiskUse(dir), ms, source: acc.source };
  } finally {
    removeTempDir(dir);
  }
}

function gbPer100k(bytes: number, blocks: number): string {
  return ((bytes / blocks) * PER / GB).toFixed(3);
}

/** Runs the storage scenario. */
export async function runStorageScenario(ctx: BenchContext): Promise<void> {
  const open = await loadOpenStore();
  if (typeof open === 'string') {
    ctx.emitRecord({ scenario: 'storage', skipped: true, reason: open }, `\n== storage: skipped: store not available (${open})`);
    return;
  }
  const blocks = ctx.quick ? 100 : 10_000;
  const peerBlocks = ctx.quick ? 40 : 2_000;
  const cells: string[][] = [['system', 'validators', 'blocks measured', 'bytes used', 'bytes per block', 'GB per 100k blocks', 'target < 1 GB', 'preallocated, unwritten']];
  const notes: string[] = [];
  for (const validators of [21, 100]) {
    ctx.log(`storage: consensus-store, ${validators} validators, ${formatNumber(blocks)} blocks`);
    const { use, ms, source } = await engineRun(validators, blocks);
    const gb = (use.used / blocks) * PER / GB;
    cells.push([
      'consensus-store',
      String(validators),
      formatNumber(blocks),
      formatNumber(use.used),
      formatNumber(use.used / blocks),
      gb.toFixed(3),
      gb < 1 ? 'MET' : 'MISSED',
      `${formatNumber(use.fileBytes - use.used)} (files ${formatNumber(use.fileBytes)}, allocated ${formatNumber(use.allocated)})`,
    ]);
    notes.push(`consensus-store ${validators} validators: ${formatNumber(blocks)} blocks written in ${(ms / 1000).toFixed(1)} s (durability none); audit/rewards: ${source}`);
    ctx.log(`storage: peers, ${validators} validators, ${formatNumber(peerBlocks)} blocks`);
    const peers = await openPeers((m) => ctx.log(m), { label: `storage-${validators}`, fast: true });
    try {
      const factory = new Map<string, BlockFactory>();
      for (const { peer } of peers.open) {
        const f = new BlockFactory(validators);
        factory.set(peer.name, f);
        for (let i = 0; i < peerBlocks; i++) await peer.appendBlock(f.next());
      }
      for (const { peer, dir } of peers.open) {
        let bytes: number;
        let how: string;
        if (peer instanceof PgPeer) {
          await peer.pool.query('VACUUM ANALYZE').catch(() => undefined);
          bytes = await peer.bytes();
          how = 'tables + indexes';
        } else {
          await peer.close();
          bytes = dir === undefined ? NaN : dirBytes(dir);
          how = peer.name === 'sqlite' ? 'db file after WAL checkpoint' : 'directory after close';
        }
        const g = (bytes / peerBlocks) * PER / GB;
        cells.push([`${peer.name} (${how})`, String(validators), formatNumber(peerBlocks), formatNumber(bytes), formatNumber(bytes / peerBlocks), gbPer100k(bytes, peerBlocks), g < 1 ? 'MET' : 'MISSED', '-']);
      }
      const missing = missingNote(peers.missing);
      if (missing !== undefined && validators === 100) notes.push(missing);
    } finally {
      await peers.close();
    }
  }
  notes.push(
    `per block: every validator's prevote and precommit, a round checkpoint, 4 audit events, a reward distribution (validators + 1 lines); extrapolated linearly to 100,000 blocks`,
    'consensus-store "bytes used": segments up to the end of their last record, plus MANIFEST and LOCK; "preallocated, unwritten": the zeros after it and the segment created ahead of need',
  );
  if (ctx.quick) notes.push(`--quick: extrapolated from ${blocks} blocks only (the full run measures 10,000)`);
  ctx.emitTable('storage', `storage: bytes on disk per 100,000 blocks`, cells, notes);
  await runEngineMixStorage(ctx);
  await runRetentionStorage(ctx);
}
