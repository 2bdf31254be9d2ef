/**
 * `cstore unsafe-repair <dir>`: the explicit repair of D5 for an operator (docs/operations.md,
 * "Repair"). Opens the log with `repair: true` (taking the lock: the node must be stopped, LOCKED
 * otherwise), which keeps a `.broken` copy of the damaged segment, drops the damaged batches
 * (keeping the intact ones after them where it can), rebuilds a missing MANIFEST, and reports the
 * loss; then opens the store once so that the repair is recorded (the sign guard's barrier and
 * the signed `StoreRepaired` audit entry) and prints the exact report and what the operator must
 * do next.
 *
 * "Unsafe" because it drops data on purpose: this file must never run without the operator
 * naming the directory, and never hide a loss (every field of the report is printed).
 */
import { invalidArgument } from '../errors.ts';
import { defaultFileSystem } from '../io/real-fs.ts';
import type { PendingRepairReport, RepairReport } from '../log/types.ts';
import { openLog } from '../log/wal.ts';
import { openStore } from '../store.ts';
import { readRecordedChainId } from '../stores/store-identity.ts';
import { CliError, Exit } from './exit.ts';
import { requireDir } from './read-only.ts';

/** Options of `runUnsafeRepair`. */
export interface UnsafeRepairOptions {
  readonly json: boolean;
  /** The chain id, when the directory's own record of it was lost (checked against it otherwise). */
  readonly chainId?: string | undefined;
  readonly print: (text: string) => Promise<void>;
}

/** The `--json` document (docs/operations.md). */
export interface UnsafeRepairResult {
  readonly dir: string;
  /** True when this run found damage and repaired it (or rebuilt the manifest). */
  readonly repaired: boolean;
  readonly manifestRebuilt: boolean;
  /** This run's repair, null when it found no damage. */
  readonly repair: RepairReport | null;
  /** The repairs this run recorded in the audit log and the sign guard (this one and any an earlier run left unrecorded). */
  readonly recorded: readonly PendingRepairReport[];
  /** What the operator must do next, one sentence each. */
  readonly next: readonly string[];
}

/**
 * Repairs `dir` (see the file comment) and prints the report.
 *
 * @returns Exit.OK (repaired, or nothing to repair).
 * @throws ConsensusStoreError NOT_FOUND (no such directory), LOCKED (the node runs),
 *   INVALID_ARGUMENT (--chain-id missing where the chain's record was lost, or empty),
 *   UNSUPPORTED_FORMAT, IO_FAILED; CliError WRONG_CHAIN (--chain-id names another chain).
 */
export async function runUnsafeRepair(dir: string, o: UnsafeRepairOptions): Promise<number> {
  if (o.chainId !== undefined && o.chainId.length === 0) throw invalidArgument('--chain-id', 'must not be empty');
  const fs = defaultFileSystem();
  await requireDir(fs, dir);
  const log = await openLog({ dir, fs, repair: true });
  let repair: RepairReport | undefined;
  let pending: readonly PendingRepairReport[];
  let rebuilt: boolean;
  let recordedChain: string | undefined;
  try {
    repair = log.openReport.repair;
    pending = log.openReport.pendingRepairs;
    rebuilt = log.openReport.manifestRebuilt === true;
    recordedChain = await readRecordedChainId(log);
  } finally {
    await log.close();
  }
  if (o.chainId !== undefined && recordedChain !== undefined && o.chainId !== recordedChain) {
    throw new CliError('WRONG_CHAIN', `--chain-id names chain '${o.chainId}', but the directory belongs to chain '${recordedChain}'`, Exit.REFUSED);
  }
  if (pending.length > 0) {
    const chainId = recordedChain ?? o.chainId;
    if (chainId === undefined) {
      throw invalidArgument('--chain-id', `is needed: the record naming the directory's chain was lost; the repair is done and stays pending (${pending.length}) until the store records it`);
    }
    // Recording the repair: the store's open writes the barrier and the StoreRepaired entry.
    const store = await openStore({ dir, fs, chainId, images: { onClose: false, everyRecords: 0 }, snapshots: { interval: 0 } });
    await store.close();
  }
  const result: UnsafeRepairResult = {
    dir,
    repaired: repair !== undefined || rebuilt,
    manifestRebuilt: rebuilt,
    repair: repair ?? null,
    recorded: pending,
    next: nextSteps(dir, pending),
  };
  await o.print(o.json ? JSON.stringify(result, null, 2) : describe(result));
  return Exit.OK;
}

function nextSteps(dir: string, recorded: readonly PendingRepairReport[]): string[] {
  if (recorded.length === 0) return [];
  const lost = recorded.some((r) => r.firstLostLsn !== undefined);
  const steps: string[] = [];
  if (lost) {
    steps.push(
      `The sign guard refuses to sign until the validator's last watermark is imported (the lost records may hold its newest signatures): find it (its other machines, its remote signer, at least \`cstore sign-state show ${dir}\`) and run \`cstore sign-state import ${dir} <file> --key-file <key>\` before starting the node (docs/operations.md, FRESH_SIGN_STATE).`,
    );
  }
  const copies = recorded.map((r) => r.brokenCopy).filter((c) => c !== '');
  if (copies.length > 0) {
    steps.push(`Keep ${copies.join(', ')} (the damaged file as it was) until the loss is understood; the node never reads it, and it may be deleted afterwards.`);
  }
  steps.push(`Check the result: \`cstore verify ${dir}\`.`);
  return steps;
}

function describe(r: UnsafeRepairResult): string {
  const lines: string[] = [];
  if (!r.repaired && r.recorded.length === 0) return `${r.dir}: no damage found, nothing repaired`;
  if (r.manifestRebuilt) lines.push(`${r.dir}: the MANIFEST was missing and was rebuilt from the segments`);
  const rep = r.repair;
  if (rep !== null) {
    lines.push(`${r.dir}: repaired damage in ${rep.file} at offset ${rep.offset}`);
    lines.push(`  lost:   ${lostText(rep)}`);
    lines.push(`  kept:   ${rep.gapEnd !== undefined ? `every intact batch after the damage (bytes ${rep.offset}..${rep.gapEnd} now hold filler records for the lost LSNs)` : 'everything before the damage; nothing after it could be kept'}`);
    lines.push(`  copy:   ${rep.brokenCopy === '' ? 'none (the damaged file was missing)' : rep.brokenCopy}`);
  }
  const earlier = r.recorded.filter((p) => rep === null || p.file !== rep.file || p.offset !== rep.offset);
  for (const p of earlier) lines.push(`also recorded an earlier repair of ${p.file} at offset ${p.offset}: lost ${lostText(p)}`);
  if (r.next.length > 0) {
    lines.push('next:');
    r.next.forEach((step, i) => lines.push(`  ${i + 1}. ${step}`));
  }
  return lines.join('\n');
}

function lostText(rep: RepairReport): string {
  const segments = `${rep.segmentsDropped} later segment${rep.segmentsDropped === 1 ? '' : 's'} removed`;
  if (rep.firstLostLsn === undefined) return `no record; ${rep.bytesDropped} bytes; ${segments}`;
  const range = rep.lastLostLsn === undefined ? `LSN ${rep.firstLostLsn} and an unknown number after it` : `LSN ${rep.firstLostLsn}..${rep.lastLostLsn}`;
  const records = rep.recordsDropped === undefined ? 'records: unknown' : `${rep.recordsDropped} record${rep.recordsDropped === 1 ? '' : 's'}`;
  return `${range} (${records}), ${rep.bytesDropped} bytes, ${segments}`;
}
