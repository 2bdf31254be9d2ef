/**
 * Backup and restore, measured (docs/operations.md, "Backup and restore"): a store with N votes
 * (default 100,000, 16 writers), then a backup taken while 16 writers keep appending, its
 * verification and a restore. Prints one JSON document.
 * Run: npx tsx bench/backup-restore.ts [N] [segment bytes, default 64 MiB] [image every R records, default none]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store.ts';
import { restoreFromBackup, verifyBackup } from '../src/index.ts';
import { signVote } from '../src/codec/vote-sign.ts';

const votes = Number(process.argv[2] ?? 100_000);
const segmentSize = Number(process.argv[3] ?? 64 << 20);
const everyRecords = Number(process.argv[4] ?? 0);
const chainId = 'bench-backup';
const root = mkdtempSync(join(tmpdir(), 'cstore-bench-backup-'));
const key = new Uint8Array(32).fill(5);
const template = signVote({ validatorId: 'val-0', height: 1, round: 1, voteType: 'prevote', blockHash: new Uint8Array(32).fill(1), timestamp: 1_700_000_000_000 }, key, chainId);
try {
  // The votes reuse one signature under many validator ids: unverified (docs/stores.md, "Vote verification").
  const store = await openStore({ dir: join(root, 'node'), chainId, voteVerification: 'off', log: { segmentSize }, images: { everyRecords } });
  const writers = 16;
  let next = 0;
  let stop = false;
  let acked = 0;
  const writer = async (w: number, until: () => boolean): Promise<void> => {
    for (let r = w * 10_000_000 + next; !until(); r++) {
      await store.votes.appendVote({ ...template, validatorId: `val-${w}`, height: r, round: r });
      acked++;
    }
  };
  let started = performance.now();
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w, () => acked >= votes)));
  const fillSeconds = (performance.now() - started) / 1000;
  next = 5_000_000;
  const before = acked;
  const during = Array.from({ length: writers }, (_, w) => writer(w, () => stop));
  started = performance.now();
  const backup = await store.backup(join(root, 'backup'), { includeKey: true });
  const backupMs = performance.now() - started;
  const writtenDuring = acked - before;
  stop = true;
  await Promise.all(during);
  await store.close();
  started = performance.now();
  const verified = await verifyBackup(join(root, 'backup'));
  const verifyMs = performance.now() - started;
  started = performance.now();
  const restored = await restoreFromBackup({ backup: join(root, 'backup'), dir: join(root, 'restored'), minSignHeight: 1 });
  const restoreMs = performance.now() - started;
  started = performance.now();
  const back = await openStore({ dir: join(root, 'restored'), chainId, log: { segmentSize } });
  const openMs = performance.now() - started;
  const replay = back.replay;
  await back.close();
  console.log(JSON.stringify({
    votes, writers, segmentSize, everyRecords, fillSeconds: Number(fillSeconds.toFixed(1)),
    backup: { lsn: backup.lsn, files: backup.files.length, linkedFiles: backup.files.filter((f) => f.method === 'link').length, bytes: backup.bytes, bytesCopied: backup.bytesCopied, ms: Math.round(backupMs), lsnFixMs: Number(backup.fixMs.toFixed(2)), votesAckedDuringBackup: writtenDuring },
    verify: { ms: Math.round(verifyMs), bytes: verified.bytes },
    restore: { ms: Math.round(restoreMs), files: restored.files },
    openRestored: { ms: Math.round(openMs), imageLoaded: replay.image.loaded !== undefined, recordsReplayed: replay.records },
  }, null, 2));
} finally {
  rmSync(root, { recursive: true, force: true });
}
