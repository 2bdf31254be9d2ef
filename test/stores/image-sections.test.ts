/**
 * The image sections of every store but the vote store (tags 1, 3..8; docs/format.md, "Local
 * state image"), against the contract of `ImageSection` (src/stores/context.ts): a random history
 * of store operations runs through `openStoreOnLog` on a MemoryLog; at a random cut L, a store
 * fed records 1..L captures its section (encoded after it was fed the rest), a fresh store loads it and is fed L+1..N, and it must
 * answer every query (a fixed list covering each public read method, and its own image again)
 * as a store fed 1..N does. The live stores also capture mid-history, and their sections,
 * encoded after the rest of the history ran, must be what a store fed 1..L encodes. Truncated
 * sections, another format version and oversized counts are refused.
 *
 * The workload and the queries are test/support/store-workload.ts (shared with the local image
 * tests).
 *
 * Prints its fast-check seed; set FC_SEED to replay one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageReader, ImageWriter } from '../../src/codec/image-section.ts';
import { ConsensusStoreError } from '../../src/errors.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import type { LogRecord } from '../../src/log/types.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { openStoreOnLog, type ConsensusStore } from '../../src/store.ts';
import type { ImageSection, RecordApplier, StoreContext } from '../../src/stores/context.ts';
import { encodeStoreIdentity } from '../../src/stores/store-identity.ts';
import type { UnsignedVote } from '../../src/model/vote.ts';
import { AUDIT_CHAIN } from '../support/audit-test-log.ts';
import { AUDIT_KEY, evidenceIdsOf, NODE, opArb, run, SUBJECTS, unsignedVote, type Op, type Subject, type World } from '../support/store-workload.ts';

/** The records of `log` in LSN order. */
async function recordsOf(log: MemoryLog): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  await log.scan((r) => {
    out.push(r);
  });
  return out;
}

function feed(store: RecordApplier, records: readonly LogRecord[]): void {
  for (const r of records) if (store.kinds.includes(r.kind)) store.apply(r);
}

function encode(thunk: (w: ImageWriter) => void): Uint8Array {
  const w = new ImageWriter();
  thunk(w);
  return w.finish();
}

/** Runs a history on a fresh MemoryLog; `onStep(i)` runs between operations, at a quiescent moment. */
async function runHistory(ops: readonly Op[], onStep: (i: number, live: ConsensusStore, log: MemoryLog) => void = () => undefined): Promise<{ live: ConsensusStore; log: MemoryLog; signRequests: UnsignedVote[] }> {
  const log = MemoryLog.open();
  // What openStore writes first (openStoreOnLog does not): the identity section has something to hold.
  await log.append([{ kind: RecordKind.StoreIdentity, payload: encodeStoreIdentity(AUDIT_CHAIN) }]);
  let clock = 1_700_000_000_000;
  const live = await openStoreOnLog(log, { chainId: AUDIT_CHAIN, now: () => clock++, signer: { ...NODE, state: 'new-key' }, audit: { nodeKey: AUDIT_KEY } });
  const signRequests: UnsignedVote[] = [];
  for (let i = 0; i < ops.length; i++) {
    onStep(i, live, log);
    const o = ops[i] as Op;
    if (o.op === 'sign') signRequests.push(unsignedVote(o));
    await run(live, o);
  }
  return { live, log, signRequests };
}

/** A context on `log` that reads but refuses every append, and a fixed clock. */
function readOnlyContext(log: MemoryLog): StoreContext {
  const readOnly = Object.create(log) as MemoryLog;
  readOnly.append = () => Promise.reject(new ConsensusStoreError('IO_FAILED', 'read-only test log'));
  return { log: readOnly, now: () => 1_750_000_000_000 };
}

function worldOf(live: ConsensusStore, log: MemoryLog, signRequests: readonly UnsignedVote[]): World {
  return {
    live,
    ctx: readOnlyContext(log),
    signRequests,
    evidenceIds: () => evidenceIdsOf(live),
  };
}

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`image-sections: fast-check seed ${seed}`);

describe('image sections (tags 1, 3..8)', () => {
  it('a store loaded from its section at a cut L and fed the records after L answers as one fed every record', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 80, size: 'max' }), fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000), async (ops, cutAt) => {
        const { live, log, signRequests } = await runHistory(ops);
        const records = await recordsOf(log);
        const cut = Math.floor(cutAt * records.length);
        const world = worldOf(live, log, signRequests);
        for (const [name, make] of Object.entries(SUBJECTS)) {
          const full = make(world);
          feed(full.store, records);
          const before = make(world);
          feed(before.store, records.slice(0, cut));
          const thunk = before.store.captureImage();
          // Replay folds in place what live writes replace: the section must still be the state at capture.
          feed(before.store, records.slice(cut));
          const section = encode(thunk);
          const loaded = make(world);
          loaded.store.loadImage(new ImageReader(section));
          feed(loaded.store, records.slice(cut));
          expect(await loaded.queries(), `${name}, cut after ${cut} of ${records.length} records`).toEqual(await full.queries());
          expect(encode(loaded.store.captureImage()), `${name}: its image again`).toEqual(encode(full.store.captureImage()));
        }
        await live.close();
      }),
      { seed, numRuns: 40 },
    );
  }, 300_000);

  it('a section captured from the live stores mid-history encodes, after the rest ran, the state at capture', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 80, size: 'max' }), fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000), async (ops, captureAt) => {
        // captureAt 1 would fall after the last op, where nothing runs the capture.
        const at = Math.min(Math.floor(captureAt * ops.length), ops.length - 1);
        let captured: { lsn: number; thunks: Map<string, (w: ImageWriter) => void> } | undefined;
        const { live, log, signRequests } = await runHistory(ops, (i, store, l) => {
          if (i !== at) return;
          const sections: Record<string, unknown> = {
            'sign guard': store.signGuard,
            'round states': store.rounds,
            validators: store.validators,
            audit: store.audit,
            evidence: store.evidence,
            rewards: store.rewards,
          };
          const thunks = new Map(Object.entries(sections).map(([name, s]) => [name, (s as ImageSection).captureImage()]));
          captured = { lsn: l.nextLsn - 1, thunks };
        });
        const records = await recordsOf(log);
        const world = worldOf(live, log, signRequests);
        expect(captured).toBeDefined();
        for (const [name, thunk] of captured?.thunks ?? []) {
          const fresh = (SUBJECTS[name] as (w: World) => Subject)(world);
          feed(fresh.store, records.filter((r) => r.lsn <= (captured?.lsn ?? 0)));
          expect(encode(thunk), `${name} captured at LSN ${captured?.lsn}`).toEqual(encode(fresh.store.captureImage()));
        }
        await live.close();
      }),
      { seed: seed + 1, numRuns: 25 },
    );
  }, 300_000);

  describe('malformed sections are refused', async () => {
    const ops: Op[] = [
      { op: 'register', v: 1, height: 1, stake: 100 },
      { op: 'vote', v: 1, height: 2, round: 2, type: 'prevote', hash: 1 },
      { op: 'vote', v: 1, height: 2, round: 2, type: 'prevote', hash: 2 },
      { op: 'sign', height: 3, round: 3, type: 'prevote', hash: 1, time: 0 },
      { op: 'round', height: 3, round: 3, phase: 1 },
      { op: 'reward', height: 3, amounts: [5, 6] },
      { op: 'event', height: 4, round: 4 },
    ];
    /** Where each section's first count (or length) lies: overwriting it with 2^32-1 must be refused. */
    const firstCount: Record<string, number> = {
      identity: 5,
      'sign guard': 5,
      'round states': 20,
      validators: 12,
      audit: 56,
      evidence: 4,
      rewards: 12,
    };
    for (const name of Object.keys(SUBJECTS)) {
      it(name, async () => {
        const { live, log, signRequests } = await runHistory(ops);
        const records = await recordsOf(log);
        const world = worldOf(live, log, signRequests);
        const make = SUBJECTS[name] as (w: World) => Subject;
        const full = make(world);
        feed(full.store, records);
        const good = encode(full.store.captureImage());
        expect(() => make(world).store.loadImage(new ImageReader(good))).not.toThrow();
        for (let cut = 0; cut < good.length; cut += Math.max(1, Math.floor(good.length / 40))) {
          expect(() => make(world).store.loadImage(new ImageReader(good.subarray(0, cut))), `${name} cut at ${cut}`).toThrow();
        }
        const wrongVersion = good.slice();
        new DataView(wrongVersion.buffer).setUint32(0, 2, true);
        expect(() => make(world).store.loadImage(new ImageReader(wrongVersion))).toThrow(/version/);
        const oversized = good.slice();
        new DataView(oversized.buffer).setUint32(firstCount[name] as number, 0xffff_ffff, true);
        expect(() => make(world).store.loadImage(new ImageReader(oversized))).toThrow(/count|more than|exceeds/);
        const trailing = new Uint8Array(good.length + 1);
        trailing.set(good);
        expect(() => make(world).store.loadImage(new ImageReader(trailing))).toThrow(/trailing/);
        await live.close();
      });
    }
  });
});
