/**
 * `cstore backup`, `cstore backup verify` and `cstore restore` (docs/operations.md, "Backup and
 * restore"). A backup by this process opens the directory as the node does, so it takes the
 * directory's lock: on a running node's directory it is refused (LOCKED) with the way to take
 * one online (the node's own `store.backup`); on a stopped one it holds the lock while it
 * copies. Verify and restore never touch a data directory other than the restore's target.
 *
 * It must never open a directory whose node key is missing (the open would create one), and
 * never report a backup as taken when it has no trailer.
 */
import { ConsensusStoreError, isStoreError } from '../errors.ts';
import { defaultFileSystem } from '../io/real-fs.ts';
import { openStore } from '../store.ts';
import type { BackupReport } from '../backup/take.ts';
import { verifyBackup, type BackupVerifyReport } from '../backup/verify.ts';
import { restoreFromBackup, type BackupRestoreReport } from '../backup/restore.ts';
import { CliError, Exit } from './exit.ts';
import { nodePublicKey, openDir, requireDir } from './read-only.ts';

type Print = (text: string) => Promise<void>;

/** How `cstore backup` took the backup: it held the stopped directory's lock. */
export const OFFLINE_MODE = 'offline: cstore held the stopped directory\'s lock';

/**
 * Backs up the stopped data directory `dir` into `dest`.
 * @returns the exit code.
 * @throws CliError LOCKED (a running node holds `dir`: use its `store.backup`, or stop it);
 *   ConsensusStoreError NOT_FOUND, INVALID_ARGUMENT (no node key, no chain id), the backup's errors.
 */
export async function runBackup(dir: string, dest: string, o: { readonly includeKey: boolean; readonly chainId: string | undefined; readonly json: boolean; readonly print: Print }): Promise<number> {
  const fs = defaultFileSystem();
  await requireDir(fs, dir);
  const opened = await openDir(dir, fs);
  let chainId: string | undefined;
  let key: Uint8Array | undefined;
  try {
    chainId = opened.recordedChainId ?? o.chainId;
    key = await nodePublicKey(opened);
  } finally {
    await opened.log.close();
  }
  if (opened.recordedChainId !== undefined && o.chainId !== undefined && o.chainId !== opened.recordedChainId) {
    throw new CliError('WRONG_CHAIN', `${dir} belongs to chain ${JSON.stringify(opened.recordedChainId)}, not ${JSON.stringify(o.chainId)}`, Exit.REFUSED);
  }
  if (chainId === undefined) throw new ConsensusStoreError('INVALID_ARGUMENT', `${dir} records no chain id: give --chain-id`);
  if (key === undefined) throw new ConsensusStoreError('INVALID_ARGUMENT', `${dir} holds no node.key: the backup's trailer is signed with the node key (put the node's key file back first)`);
  let store;
  try {
    store = await openStore({ dir, fs, chainId, images: { everyRecords: 0, onClose: false }, snapshots: { interval: 0 } });
  } catch (err) {
    if (!isStoreError(err, 'LOCKED')) throw err;
    throw new CliError(
      'LOCKED',
      `${dir} is held by a running node, so this process cannot take its lock: take the backup online through the node itself (its API: await store.backup(dest, { includeKey }), consistent at one LSN while it writes), or stop the node and run cstore backup again`,
      Exit.LOCKED,
    );
  }
  let report: BackupReport;
  try {
    report = await store.backup(dest, { includeKey: o.includeKey });
  } finally {
    await store.close();
  }
  const linked = report.files.filter((f) => f.method === 'link').length;
  if (o.json) {
    await o.print(JSON.stringify({ dir, mode: 'offline', ...report, linkedFiles: linked }, null, 2));
    return Exit.OK;
  }
  await o.print(
    [
      `backup of ${dir} into ${dest}: complete (trailer written)`,
      `  taken ${OFFLINE_MODE} (a running node takes its own: store.backup)`,
      `  LSN ${report.lsn}, chain ${report.chainId}, ${report.files.length} files, ${report.bytes} bytes (${linked} hard-linked, ${report.bytesCopied} bytes copied), ${Math.round(report.durationMs)} ms`,
      `  node key ${report.includesKey ? 'INCLUDED (node.key, mode 0600): keep the backup as secret as the key' : 'not included (--include-key to add it): keep node.key safe elsewhere'}`,
      `  check it: cstore backup verify ${dest}`,
    ].join('\n'),
  );
  return Exit.OK;
}

/** `cstore backup verify`: exit 0 when sound; CORRUPTION (exit 2) names the file. */
export async function runBackupVerify(dest: string, o: { readonly publicKey: string | undefined; readonly json: boolean; readonly print: Print }): Promise<number> {
  let report: BackupVerifyReport;
  try {
    report = await verifyBackup(dest, o.publicKey === undefined ? undefined : { publicKey: o.publicKey });
  } catch (err) {
    if (o.json && isStoreError(err, 'CORRUPTION')) {
      await o.print(JSON.stringify({ backup: dest, ok: false, exitCode: Exit.DAMAGE, corruption: { file: err.location?.file ?? null, offset: err.location?.offset ?? null, message: err.message } }, null, 2));
    }
    throw err;
  }
  if (o.json) {
    await o.print(JSON.stringify({ ...report, ok: true, exitCode: Exit.OK, corruption: null }, null, 2));
    return Exit.OK;
  }
  await o.print(
    [
      `backup ${dest}: sound`,
      `  LSN ${report.lsn}, chain ${report.chainId}, taken ${new Date(report.createdAt).toISOString()}`,
      `  ${report.files} files, ${report.bytes} bytes, every size and SHA-256 as listed; the log opens read-only at LSN ${report.lsn}`,
      `  signed by node key ${report.publicKey} (key from ${report.keySource})`,
    ].join('\n'),
  );
  return Exit.OK;
}

/** `cstore restore`: restores, then says what the fence asks of the operator. */
export async function runRestore(backup: string, dir: string, o: { readonly minSignHeight: number | undefined; readonly publicKey: string | undefined; readonly json: boolean; readonly print: Print }): Promise<number> {
  const report: BackupRestoreReport = await restoreFromBackup({
    backup,
    dir,
    ...(o.minSignHeight === undefined ? {} : { minSignHeight: o.minSignHeight }),
    ...(o.publicKey === undefined ? {} : { publicKey: o.publicKey }),
  });
  if (o.json) {
    await o.print(JSON.stringify(report, null, 2));
    return Exit.OK;
  }
  const lines = [
    `restored ${dir} from ${backup}: LSN ${report.lsn}, chain ${report.chainId}, ${report.files} files, ${report.bytes} bytes${report.restarted ? ' (an unfinished restore was started over)' : ''}`,
    report.fence.kind === 'floor'
      ? `  sign fence: nothing at or below height ${report.fence.height} will be signed`
      : `  sign fence: the node signs NOTHING until you give the chain's current height or import this key's up-to-date watermark (cstore sign-state import ${dir} <file> --key-file K); the backup's own watermark is as old as the backup`,
  ];
  if (!report.includesKey) lines.push(`  the backup holds no node key: put the node's node.key into ${dir} (mode 0600) before starting the node`);
  await o.print(lines.join('\n'));
  return Exit.OK;
}
