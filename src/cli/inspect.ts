/**
 * `cstore inspect <dir>` and `cstore verify <dir>`: what an operator asks of a stopped node's data
 * directory. Both open its log like the node would (taking the lock, so a running node's
 * directory answers LOCKED), which also cuts a torn tail exactly as the node's next start would,
 * and build the stores on it without a node key, so that they write nothing of their own.
 *
 * They must never change anything the node's own open would not change, never create a data
 * directory, and never print a figure they did not read from the store.
 */
import { join } from 'node:path';
import { ConsensusStoreError, isStoreError } from '../errors.ts';
import { defaultFileSystem } from '../io/real-fs.ts';
import { openLog } from '../log/wal.ts';
import { openStoreOnLog, writableLogOf, type ConsensusStore } from '../store.ts';
import { decodeNodeKeyFile, type NodeKey } from '../codec/node-key.ts';
import { readRecordedChainId } from '../stores/store-identity.ts';

const KIND_NAMES = new Map<number, string>(Object.entries(RecordKind).map(([name, kind]) => [kind, name]));

/** The node key file `openStore` keeps in the data directory. */
const NODE_KEY_FILE = 'node.key';
import { RecordKind } from '../codec/kinds.ts';

/**
 * Opens an existing data directory for reading. The chain id is the one the directory recorded
 * at its first open (`chainId` only overrides it for directories without one); the node key is
 * read from `node.key` when present (never created), so the audit chain verifies against it.
 * @throws NOT_FOUND when `dir` holds no log.
 */
async function openExisting(dir: string, chainId: string | undefined): Promise<{ store: ConsensusStore; chainId: string | undefined }> {
  const fs = defaultFileSystem();
  if ((await fs.stat(join(dir, 'wal'))) === undefined) {
    throw new ConsensusStoreError('NOT_FOUND', `${dir} is not a consensus-store data directory (no wal/)`);
  }
  const log = await openLog({ dir });
  let recorded: string | undefined;
  let nodeKey: NodeKey | undefined;
  try {
    recorded = await readRecordedChainId(log);
    const keyPath = join(dir, NODE_KEY_FILE);
    if ((await fs.stat(keyPath)) !== undefined) nodeKey = decodeNodeKeyFile(await fs.readFile(keyPath), keyPath);
  } catch (err) {
    await log.close();
    throw err;
  }
  const effective = recorded ?? chainId;
  const store = await openStoreOnLog(log, {
    chainId: effective ?? 'unknown-chain',
    ...(nodeKey === undefined ? {} : { audit: { nodeKey } }),
  });
  return { store, chainId: effective };
}

/** Prints a summary of the data directory; resolves with the exit code. */
export async function runInspect(dir: string, print: (line: string) => void): Promise<number> {
  const { store, chainId } = await openExisting(dir, undefined);
  try {
    const report = store.log.openReport;
    print(`data directory: ${dir}`);
    print(`chain: ${chainId ?? 'not recorded'}`);
    print(`log: ${report.segmentsScanned} segment(s), ${report.recordsScanned} records in ${report.batchesScanned} batches, next LSN ${store.log.nextLsn}`);
    print(`open: ${report.durationMs.toFixed(1)} ms, torn tail cut ${report.tornBytesCut} bytes${report.repair === undefined ? '' : `, REPAIRED at ${report.repair.file}:${report.repair.offset}`}`);
    const byKind = new Map<number, number>();
    await writableLogOf(store).scan((record) => {
      byKind.set(record.kind, (byKind.get(record.kind) ?? 0) + 1);
    });
    for (const [kind, count] of [...byKind].sort((a, b) => a[0] - b[0])) {
      print(`  ${(KIND_NAMES.get(kind) ?? `kind ${kind}`).padEnd(22)} ${count}`);
    }
    const last = await store.rounds.loadRoundState();
    print(last === undefined ? 'round state: none' : `round state: height ${last.state.height}, round ${last.state.round}, phase ${last.state.phase} (LSN ${last.id})`);
    const finalized = await store.votes.getLastFinalized();
    print(finalized === undefined ? 'finalized: none' : `finalized: height ${finalized.height}, round ${finalized.round}`);
    print(`earliest open round: ${(await store.votes.getEarliestOpenRound()) ?? 'none'}`);
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * Opens the directory (every record's CRC is checked by the open's scan: D4, D5), re-reads every
 * record through the LSN index, runs the recovery integrity check and, given the chain id, walks
 * the audit chain and its signatures. Exit code 0 when clean, 2 on CORRUPTION (file and offset
 * printed) or a failed check.
 */
export async function runVerify(dir: string, chainId: string | undefined, print: (line: string) => void): Promise<number> {
  let store: ConsensusStore;
  let effectiveChain: string | undefined;
  try {
    ({ store, chainId: effectiveChain } = await openExisting(dir, chainId));
  } catch (err) {
    if (isStoreError(err, 'CORRUPTION')) {
      print(`CORRUPTION: ${err.message}`);
      return 2;
    }
    throw err;
  }
  try {
    let records = 0;
    let firstLsn: number | undefined;
    await writableLogOf(store).scan((record) => {
      firstLsn ??= record.lsn;
      records++;
    });
    let reread = 0;
    if (firstLsn !== undefined) {
      for (let lsn = firstLsn; lsn < store.log.nextLsn; lsn++) {
        const record = await writableLogOf(store).get(lsn as never);
        if (record === undefined) throw new ConsensusStoreError('CORRUPTION', `LSN ${lsn} is missing from the index`);
        reread++;
      }
    }
    const recovery = await store.recovery.recover();
    print(`records scanned: ${records}, re-read by LSN: ${reread}`);
    print(`recovery integrity: ${recovery.integrity.ok ? 'ok' : 'FAILED'} (${recovery.integrity.checked} checked)`);
    for (const problem of recovery.integrity.problems) print(`  ${problem}`);
    let auditOk = true;
    if (effectiveChain === undefined) {
      print('audit chain: not checked (the directory records no chain id: give --chain-id, every entry hash is bound to it)');
    } else {
      const audit = await store.audit.verifyIntegrity();
      auditOk = audit.ok;
      print(`audit chain: ${audit.ok ? 'ok' : 'FAILED'} (${audit.checked} entries, ${audit.heads} signed heads)`);
      if (audit.firstBad !== undefined) print(`  first bad entry: LSN ${audit.firstBad.id}: ${audit.firstBad.reason}`);
    }
    return recovery.integrity.ok && auditOk ? 0 : 2;
  } catch (err) {
    if (isStoreError(err, 'CORRUPTION')) {
      print(`CORRUPTION: ${err.message}`);
      return 2;
    }
    throw err;
  } finally {
    await store.close();
  }
}
