/**
 * The checks run after every reopen of a simulated run, against the `AckModel`:
 * - the log: LSNs gap-free; every probe batch whole or absent (D3), every acknowledged one there;
 * - votes: every acknowledged vote there with its LSN and every byte; every visible vote one
 *   that was written (acknowledged or in flight), never a refused or unknown one;
 * - round state: the latest checkpoint is the last acknowledged save or a later one that was in
 *   flight; `recover()` says the same and its integrity check passes;
 * - sign guard: the watermark covers the last released signature; the same request gets the
 *   same signature back, a conflicting one is refused; no slot ever released two signatures;
 * - validators and finalization marks: every acknowledged change and mark there;
 * - audit entries and reward distributions: every acknowledged one there, nothing else; the
 *   audit chain verifies (`verifyIntegrity` walks every head signature, so runs ask for it on
 *   their last check and on a random share of the others: chain damage never heals, so the
 *   last check of a run sees damage done at any of its cuts);
 * - evidence (D3): a validator's conflicting votes are visible only together with evidence.
 *
 * It must never write through the store except by asking the sign guard to sign (a correct
 * guard refuses or returns the stored signature, writing nothing).
 */
import { isStoreError } from '../../src/errors.ts';
import type { ConsensusStore } from '../../src/store.ts';
import type { LogRecord } from '../../src/log/types.ts';
import { SIGN_STEPS } from '../../src/model/sign.ts';
import { blockHashOf, hex } from '../keys.ts';
import { type AckModel, PROBE_KIND, voteKey } from './model.ts';

/** What a check found: problems (violations) and how many acknowledged writes it verified. */
export interface CheckResult {
  readonly problems: string[];
  checked: number;
  /** Reads that failed CORRUPTION naming the damaged file (a correct detection, `CheckOptions.damaged`). */
  foundOnRead: number;
}

/** How to check. */
export interface CheckOptions {
  /** LSNs from here on may be gone (an explicit repair cut them). */
  readonly lostFrom?: number;
  /**
   * An explicit repair kept the batches after its damage (docs/durability.md, D5): exactly these
   * LSNs are missing from the log, every other acknowledged probe batch must be there, after the
   * gap too. The stores' checks still treat everything from `lostFrom` on as possibly gone (a
   * store may skip a record after a gap whose base the gap took).
   */
  readonly gap?: { readonly first: number; readonly last: number };
  /** Verify the whole audit chain (reads every audit record back). */
  readonly auditChain?: boolean;
  /**
   * Reads the durable log (every record, in LSN order) without touching the store's writable
   * log (taking that turns local images off for the open): the harness scans a copy of the disk.
   */
  readonly scanLog: (visit: (record: LogRecord) => void) => Promise<void>;
  /**
   * A file known to be damaged (the corrupt scenario, when an image let the open skip it): a
   * read that fails CORRUPTION naming exactly this file is a correct detection, counted in
   * `foundOnRead`; any other error, and any wrong value, stays a problem.
   */
  readonly damaged?: string;
}

/** Runs every check on a freshly reopened store. */
export async function checkStore(store: ConsensusStore, model: AckModel, options: CheckOptions): Promise<CheckResult> {
  const lostFrom = options.lostFrom ?? Infinity;
  const result: CheckResult = { problems: [], checked: 0, foundOnRead: 0 };
  const part = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      if (options.damaged !== undefined && isStoreError(err, 'CORRUPTION') && err.location?.file === options.damaged) result.foundOnRead++;
      else result.problems.push(`check (${what}) threw: ${isStoreError(err) ? `${err.code}: ${err.message}` : String(err)}`);
    }
  };
  await part('log', () => checkLog(options.scanLog, model, result, lostFrom, options.gap));
  await part('votes', () => checkVotes(store, model, result, lostFrom));
  await part('rounds', () => checkRounds(store, model, result, lostFrom, options.damaged));
  await part('sign guard', () => checkSignGuard(store, model, result, lostFrom));
  await part('validators', () => checkValidators(store, model, result, lostFrom));
  await part('audit chain', () => checkAuditChain(store, result, options.auditChain ?? true));
  await part('audit', () => checkAudit(store, model, result, lostFrom));
  await part('rewards', () => checkRewards(store, model, result, lostFrom));
  await part('evidence', () => checkEvidence(store, model, result));
  await part('finalization', async () => {
    const last = await store.votes.getLastFinalized();
    if (model.lastFinalizedHeight >= 0 && lostFrom === Infinity && (last === undefined || last.height < model.lastFinalizedHeight)) {
      result.problems.push(`finalization: acknowledged mark at height ${model.lastFinalizedHeight}, store says ${last?.height ?? 'none'}`);
    }
  });
  return result;
}

async function checkLog(scanLog: CheckOptions['scanLog'], model: AckModel, result: CheckResult, lostFrom: number, gap?: CheckOptions['gap']): Promise<void> {
  let expect: number | undefined;
  let gapSeen = false;
  const batches = new Map<number, { lsns: number[]; count: number; seen: Set<number> }>();
  await scanLog((record) => {
    // A gap at the log's start: the first record read follows it (the log starts at LSN 1).
    const isGap = gap !== undefined && (expect ?? 1) === gap.first && record.lsn === gap.last + 1;
    if (isGap) gapSeen = true;
    else if (expect !== undefined && record.lsn !== expect) result.problems.push(`log: LSN ${record.lsn} follows ${expect - 1} (gap or disorder${gap === undefined ? '' : `; the repair reported the gap ${gap.first}..${gap.last}`})`);
    if (gap !== undefined && record.lsn >= gap.first && record.lsn <= gap.last) result.problems.push(`log: LSN ${record.lsn} readable inside the reported gap ${gap.first}..${gap.last}`);
    expect = record.lsn + 1;
    if (record.kind !== PROBE_KIND) return;
    const view = new DataView(record.payload.buffer, record.payload.byteOffset, record.payload.byteLength);
    const id = view.getUint32(0);
    const b = batches.get(id) ?? { lsns: [], count: view.getUint16(6), seen: new Set<number>() };
    b.lsns.push(record.lsn);
    b.seen.add(view.getUint16(4));
    batches.set(id, b);
  });
  for (const [id, b] of batches) {
    const w = model.probes.get(id);
    if (w === undefined || w.state === 'refused') result.problems.push(`D3: probe batch ${id} visible but never written (or refused)`);
    const whole = b.seen.size === b.count && b.lsns.length === b.count && b.lsns.every((l, i) => i === 0 || l === b.lsns[i - 1]! + 1);
    if (!whole && !(b.lsns[0]! + b.count - 1 >= (gap?.first ?? lostFrom))) result.problems.push(`D3: probe batch ${id} visible in part (${b.seen.size} of ${b.count} records, LSNs ${b.lsns.join(',')})`);
  }
  if (gap !== undefined && !gapSeen && expect !== undefined && expect > gap.last + 1) result.problems.push(`log: the reported gap ${gap.first}..${gap.last} is not where the log skips LSNs`);
  for (const w of model.probes.values()) {
    const first = w.lsn ?? 0;
    const last = first + w.count - 1;
    // With a gap, only the batches that overlap it may be gone: every one after it must be there.
    const mayBeLost = gap === undefined ? last >= lostFrom : last >= gap.first && first <= gap.last;
    if (w.state !== 'acked' || mayBeLost) continue;
    result.checked++;
    const b = batches.get(w.batchId);
    if (b === undefined) result.problems.push(`D1: acknowledged probe batch ${w.batchId} (LSN ${w.lsn}) missing`);
    else if (b.lsns[0] !== w.lsn) result.problems.push(`probe batch ${w.batchId}: acknowledged at LSN ${w.lsn}, found at ${b.lsns[0]}`);
  }
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function checkVotes(store: ConsensusStore, model: AckModel, result: CheckResult, lostFrom: number): Promise<void> {
  const votes = store.votes;
  const limit = votes.limits.maxQueryLimit;
  const lsns = new Set<number>();
  const found = new Map<string, { id: number; timestamp: number; signature: Uint8Array }>();
  for (const id of model.voters) {
    let from = 0;
    for (;;) {
      const page = await votes.getValidatorVotes(id, { startRound: from, limit });
      let fresh = 0;
      for (const e of page) {
        if (lsns.has(e.id)) continue;
        lsns.add(e.id);
        fresh++;
        const key = voteKey(e.vote);
        if (!found.has(key)) found.set(key, { id: e.id, timestamp: e.vote.timestamp, signature: e.vote.signature });
        const w = model.votes.get(key);
        if (w === undefined) result.problems.push(`vote never written is visible: ${key} (LSN ${e.id})`);
        else if (w.state === 'refused') result.problems.push(`refused vote is visible: ${key} (LSN ${e.id})`);
        else if (w.failedLive === true) result.problems.push(`D4: vote ${key} whose write failed is visible in the live store`);
        else if (!sameBytes(w.vote.signature, e.vote.signature) || w.vote.timestamp !== e.vote.timestamp) {
          result.problems.push(`vote ${key} (LSN ${e.id}) differs from what was written (signature or timestamp)`);
        }
      }
      if (page.length < limit || fresh === 0) break;
      from = page[page.length - 1]!.vote.round;
    }
  }
  const visible = lsns.size;
  if (visible !== votes.size) result.problems.push(`vote store holds ${votes.size} votes but ${visible} are reachable by validator`);
  for (const [key, w] of model.votes) {
    if (w.state !== 'acked' || (w.lsn ?? 0) >= lostFrom) continue;
    result.checked++;
    const e = found.get(key);
    if (e === undefined) result.problems.push(`D1: acknowledged vote ${key} (LSN ${w.lsn}) missing after reopen`);
    else if (w.lsn !== undefined && e.id !== w.lsn) result.problems.push(`acknowledged vote ${key}: LSN ${w.lsn} acknowledged, ${e.id} stored`);
  }
}

async function checkRounds(store: ConsensusStore, model: AckModel, result: CheckResult, lostFrom: number, damaged: string | undefined): Promise<void> {
  const latest = await store.rounds.loadRoundState();
  const lastAcked = [...model.rounds].reverse().find((w) => w.state === 'acked' && (w.lsn ?? 0) < lostFrom);
  if (latest === undefined) {
    if (lastAcked !== undefined) result.problems.push(`round state: none after reopen, but save at height ${lastAcked.state_.height} was acknowledged`);
  } else {
    const match = model.rounds.find((w) => w.state_.updatedAt === latest.state.updatedAt && w.state_.height === latest.state.height);
    if (match === undefined) result.problems.push(`round state: latest (height ${latest.state.height}, round ${latest.state.round}) was never saved`);
    else if (match.state === 'refused') result.problems.push(`round state: latest is a refused save (seq ${match.seq})`);
    else if (match.failedLive === true) result.problems.push(`D4: round state save #${match.seq} failed but the live store returns it`);
    else if (lastAcked !== undefined && match.seq < lastAcked.seq) {
      result.problems.push(`round state: latest is save #${match.seq} (height ${match.state_.height} ${match.state_.phase}) but #${lastAcked.seq} (height ${lastAcked.state_.height} ${lastAcked.state_.phase}) was acknowledged`);
    }
    if (match !== undefined && match.state === 'acked' && match.lsn !== latest.id) result.problems.push(`round state: acknowledged at LSN ${match.lsn}, stored at ${latest.id}`);
  }
  if (lastAcked !== undefined) result.checked++;
  const rec = await store.recovery.recover();
  if (!rec.integrity.ok) {
    // The integrity check reads the current round's records back: damage there names its file.
    const found = damaged === undefined ? [] : rec.integrity.problems.filter((p) => p.includes('CORRUPTION') && p.includes(`(file ${damaged},`));
    if (found.length > 0) result.foundOnRead++;
    const other = rec.integrity.problems.filter((p) => !found.includes(p));
    if (other.length > 0) result.problems.push(`recover(): integrity check failed: ${other.join('; ')}`);
  }
  if ((rec.roundState?.id ?? -1) !== (latest?.id ?? -1)) result.problems.push('recover(): round state differs from loadRoundState()');
  if (rec.roundState !== undefined) {
    const round = rec.roundState.state.round;
    for (const v of rec.votes) if (v.vote.round !== round) result.problems.push(`recover(): vote of round ${v.vote.round} returned for round ${round}`);
  }
}

async function checkSignGuard(store: ConsensusStore, model: AckModel, result: CheckResult, lostFrom: number): Promise<void> {
  const last = model.lastRelease;
  if (last === undefined || lostFrom !== Infinity) return;
  result.checked++;
  const wm = store.signGuard.watermark();
  const req = last.request;
  const stepIndex = (s: string): number => SIGN_STEPS.indexOf(s as never);
  if (wm === undefined) {
    result.problems.push(`D8: no watermark after reopen, but a signature for ${req.height}/${req.round}/${req.voteType} was released`);
    return;
  }
  const behind = wm.height < req.height || (wm.height === req.height && (wm.round < req.round || (wm.round === req.round && stepIndex(wm.step) < stepIndex(req.voteType))));
  if (behind) result.problems.push(`D8: watermark ${wm.height}/${wm.round}/${wm.step} is behind released ${req.height}/${req.round}/${req.voteType}`);
  const again = await trySign(store, req);
  if (again !== undefined) {
    const problem = model.release(req, again, last.order);
    if (problem !== undefined) result.problems.push(`D8 (same request after reopen): ${problem}`);
  }
  const conflicting = { ...req, blockHash: blockHashOf(req.height, 99) };
  const other = await trySign(store, conflicting);
  if (other !== undefined) {
    const problem = model.release(conflicting, other, last.order);
    result.problems.push(`D8: conflicting request for ${req.height}/${req.round}/${req.voteType} was signed after reopen${problem === undefined ? '' : `: ${problem}`}`);
  }
}

async function trySign(store: ConsensusStore, request: Parameters<ConsensusStore['signGuard']['signVote']>[0]): Promise<Uint8Array | undefined> {
  try {
    return (await store.signGuard.signVote(request)).signature;
  } catch (err) {
    if (isStoreError(err, 'CONFLICT')) return undefined;
    throw err;
  }
}

async function checkValidators(store: ConsensusStore, model: AckModel, result: CheckResult, lostFrom: number): Promise<void> {
  const histories = new Map<string, Set<number>>();
  for (const w of model.validators) {
    if (w.state !== 'acked' || (w.lsn ?? 0) >= lostFrom) continue;
    result.checked++;
    let ids = histories.get(w.id);
    if (ids === undefined) {
      ids = new Set();
      try {
        for (const c of (await store.validators.getValidatorHistory(w.id, { limit: 10_000 })).items) ids.add(c.id);
      } catch (err) {
        if (!isStoreError(err, 'NOT_FOUND')) throw err;
      }
      histories.set(w.id, ids);
    }
    if (w.lsn !== undefined && !ids.has(w.lsn)) result.problems.push(`D1: acknowledged validator ${w.kind} of ${w.id} (LSN ${w.lsn}) missing`);
  }
}

/** Hex of a signature (for messages). */
export function sigHex(sig: Uint8Array): string {
  return hex(sig).slice(0, 16);
}

async function checkAuditChain(store: ConsensusStore, result: CheckResult, chain: boolean): Promise<void> {
  const report = chain ? await store.audit.verifyIntegrity() : { ok: true, firstBad: undefined };
  if (!report.ok) result.problems.push(`audit: verifyIntegrity failed at ${JSON.stringify(report.firstBad)}`);
}

async function checkAudit(store: ConsensusStore, model: AckModel, result: CheckResult, lostFrom: number): Promise<void> {
  for (const w of model.audits) {
    if (w.state !== 'acked' || (w.lsn ?? 0) >= lostFrom) continue;
    result.checked++;
    const entries = await store.audit.queryByHeight(w.height, { limit: 1000 });
    if (!entries.some((e) => e.id === w.lsn)) result.problems.push(`D1: acknowledged audit entry (height ${w.height}, LSN ${w.lsn}) missing`);
  }
  for (const e of await store.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER, { limit: 10_000 })) {
    const ev = e.event;
    if (ev.type !== 'RoundStarted') continue;
    const w = model.audits.find((a) => a.height === ev.height && a.round === ev.round);
    if (w === undefined || w.state === 'refused') result.problems.push(`audit entry never written (or refused) is visible: height ${e.height} (LSN ${e.id})`);
  }
}

async function checkRewards(store: ConsensusStore, model: AckModel, result: CheckResult, lostFrom: number): Promise<void> {
  const visible = (await store.rewards.queryDistributions({ limit: 10_000 })).items;
  const byHeight = new Map(visible.map((d) => [d.height, d]));
  for (const w of model.rewards) {
    if (w.state !== 'acked' || (w.lsn ?? 0) >= lostFrom) continue;
    result.checked++;
    const d = byHeight.get(w.height);
    if (d === undefined) result.problems.push(`D1: acknowledged reward distribution at height ${w.height} (LSN ${w.lsn}) missing`);
    else if (d.id !== w.lsn || d.totalDistributed !== w.total) result.problems.push(`reward distribution at height ${w.height} differs (LSN ${d.id} vs ${w.lsn}, total ${d.totalDistributed} vs ${w.total})`);
  }
  for (const d of visible) {
    const w = model.rewards.find((x) => x.height === d.height);
    if (w === undefined || w.state === 'refused' || w.total !== d.totalDistributed) result.problems.push(`reward distribution at height ${d.height} visible but never written as such`);
  }
}

/** D3 for equivocation: a second vote of a slot is visible only with its evidence. */
async function checkEvidence(store: ConsensusStore, model: AckModel, result: CheckResult): Promise<void> {
  for (const id of model.voters) {
    const votes = await store.votes.getValidatorVotes(id, { limit: store.votes.limits.maxQueryLimit });
    const slots = new Map<string, number>();
    for (const e of votes) slots.set(`${e.vote.round}/${e.vote.voteType}`, (slots.get(`${e.vote.round}/${e.vote.voteType}`) ?? 0) + 1);
    const equivocated = [...slots.values()].some((n) => n > 1);
    if (!equivocated) continue;
    const evidence = await store.evidence.queryByValidator(id, { limit: 10_000 });
    for (const e of votes) {
      if ((slots.get(`${e.vote.round}/${e.vote.voteType}`) ?? 0) < 2) continue;
      result.checked++;
      if (!evidence.some((ev) => ev.height === e.vote.height)) {
        result.problems.push(`D3: validator ${id} has conflicting votes visible in round ${e.vote.round} (${e.vote.voteType}) but no evidence at height ${e.vote.height}`);
        break;
      }
    }
  }
}
