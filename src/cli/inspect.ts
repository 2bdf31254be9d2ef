/**
 * `cstore inspect <dir>` and `cstore verify <dir>`: what an operator asks of a stopped node's data
 * directory. Both open it like the node would (taking the lock, so a running node's directory
 * answers LOCKED), which also cuts a torn tail exactly as the node's next start would.
 *
 * They must never change anything an open would not change, and never print a figure they did
 * not read from the store.
 */
import { ConsensusStoreError, isStoreError } from '../errors.ts';
import { openStore } from '../store.ts';
import { RecordKind } from '../codec/kinds.ts';

const KIND_NAMES = new Map<number, string>(Object.entries(RecordKind).map(([name, kind]) => [kind, name]));

/** Prints a summary of the data directory; resolves with the exit code. */
export async function runInspect(dir: string, print: (line: string) => void): Promise<number> {
  const store = await openStore({ dir, chainId: 'inspect', allowFreshSignState: true });
  try {
    const report = store.log.openReport;
    print(`data directory: ${dir}`);
    print(`log: ${report.segmentsScanned} segment(s), ${report.recordsScanned} records in ${report.batchesScanned} batches, next LSN ${store.log.nextLsn}`);
    print(`open: ${report.durationMs.toFixed(1)} ms, torn tail cut ${report.tornBytesCut} bytes${report.repair === undefined ? '' : `, REPAIRED at ${report.repair.file}:${report.repair.offset}`}`);
    const byKind = new Map<number, number>();
    await store.log.scan((record) => {
      byKind.set(record.kind, (byKind.get(record.kind) ?? 0) + 1);
    });
    for (const [kind, count] of [...byKind].sort((a, b) => a[0] - b[0])) {
      print(`  ${(KIND_NAMES.get(kind) ?? `kind ${kind}`).padEnd(22)} ${count}`);
    }
    const last = await store.rounds.loadRoundState();
    print(last === undefined ? 'round state: none' : `round state: height ${last.state.height}, round ${last.state.round}, phase ${last.state.phase} (LSN ${last.id})`);
    const finalized = await store.votes.getLastFinalized();
    print(finalized === undefined || finalized === null ? 'finalized: none' : `finalized: height ${finalized.height}, round ${finalized.round}`);
    print(`earliest open round: ${(await store.votes.getEarliestOpenRound()) ?? 'none'}`);
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * Opens the directory (every record's CRC is checked by the open's scan: D4, D5), re-reads every
 * record through the LSN index, and runs the recovery integrity check. Exit code 0 when clean,
 * 2 on CORRUPTION (file and offset printed).
 */
export async function runVerify(dir: string, print: (line: string) => void): Promise<number> {
  let store;
  try {
    store = await openStore({ dir, chainId: 'verify', allowFreshSignState: true });
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
    await store.log.scan((record) => {
      firstLsn ??= record.lsn;
      records++;
    });
    let reread = 0;
    if (firstLsn !== undefined) {
      for (let lsn = firstLsn; lsn < store.log.nextLsn; lsn++) {
        const record = await store.log.get(lsn as never);
        if (record === undefined) throw new ConsensusStoreError('CORRUPTION', `LSN ${lsn} is missing from the index`);
        reread++;
      }
    }
    const recovery = await store.recovery.recover();
    print(`records scanned: ${records}, re-read by LSN: ${reread}`);
    print(`recovery integrity: ${recovery.integrity.ok ? 'ok' : 'FAILED'} (${recovery.integrity.checked} checked)`);
    for (const problem of recovery.integrity.problems) print(`  ${problem}`);
    return recovery.integrity.ok ? 0 : 2;
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
