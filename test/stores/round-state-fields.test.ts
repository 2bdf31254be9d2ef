/**
 * The round state's `isProposer`, `validatorCount` and `quorumSize` (docs/stores-rounds-validators.md,
 * docs/format.md "Round-state checkpoint"): checked at the API (INVALID_ARGUMENT, nothing
 * written), written as a version-2 record only when present, round-tripped exactly through the
 * record, a replay and the local image section; and a version-1 record (every checkpoint written
 * before the fields existed) still decodes, the fields absent.
 */
import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { RecordKind } from '../../src/codec/kinds.ts';
import { decodeRoundStateRecord, encodeRoundStateRecord } from '../../src/codec/round-record.ts';
import { ImageReader, ImageWriter } from '../../src/codec/image-section.ts';
import { isStoreError } from '../../src/errors.ts';
import { checkRoundState, MAX_ROUND_VALIDATOR_COUNT, roundStatesEqual, type RoundState } from '../../src/model/round.ts';
import { LogRoundStateStore } from '../../src/stores/round-state-store.ts';
import { roundState } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { openMemoryRounds, tickingClock } from '../support/round-test-log.ts';

const packr = new Packr({ useRecords: false, moreTypes: false });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isStoreError(err) ? err.code : `not a store error: ${String(err)}`;
  }
  return undefined;
}

const full = roundState(7, 9, 'precommit', { proposer: 'v1', isProposer: true, validatorCount: 4, quorumSize: 3 });

/** The version-1 tuple of a state, as every version before the fields wrote it. */
function versionOnePayload(s: RoundState, recordedAt: number): Uint8Array {
  return packr.pack([1, s.height, s.round, 2, null, null, null, null, null, s.proposer ?? null, null, s.startedAt, s.updatedAt, recordedAt]);
}

describe('checkRoundState: isProposer, validatorCount, quorumSize', () => {
  it('accepts them, each combination, and copies them', () => {
    expect(checkRoundState('s', full)).toEqual(full);
    expect(checkRoundState('s', roundState(1, 1, 'propose', { isProposer: false }))).toEqual(roundState(1, 1, 'propose', { isProposer: false }));
    const counts = roundState(1, 1, 'propose', { validatorCount: MAX_ROUND_VALIDATOR_COUNT, quorumSize: 1 });
    expect(checkRoundState('s', counts)).toEqual(counts);
    const none = checkRoundState('s', roundState(1, 1));
    expect('isProposer' in none || 'validatorCount' in none || 'quorumSize' in none).toBe(false);
  });

  const bad: [string, Partial<Record<keyof RoundState, unknown>>, RegExp][] = [
    ['isProposer a string', { isProposer: 'yes' }, /s\.isProposer/],
    ['isProposer a number', { isProposer: 1 }, /s\.isProposer/],
    ['isProposer null', { isProposer: null }, /s\.isProposer/],
    ['validatorCount 0', { validatorCount: 0, quorumSize: 1 }, /s\.validatorCount/],
    ['validatorCount above the maximum', { validatorCount: MAX_ROUND_VALIDATOR_COUNT + 1, quorumSize: 1 }, /s\.validatorCount/],
    ['validatorCount fractional', { validatorCount: 3.5, quorumSize: 1 }, /s\.validatorCount/],
    ['validatorCount a string', { validatorCount: '4', quorumSize: 3 }, /s\.validatorCount/],
    ['validatorCount without quorumSize', { validatorCount: 4 }, /s\.validatorCount.*together/],
    ['quorumSize without validatorCount', { quorumSize: 3 }, /s\.validatorCount.*together/],
    ['quorumSize 0', { validatorCount: 4, quorumSize: 0 }, /s\.quorumSize/],
    ['quorumSize above validatorCount', { validatorCount: 4, quorumSize: 5 }, /s\.quorumSize/],
    ['quorumSize negative', { validatorCount: 4, quorumSize: -1 }, /s\.quorumSize/],
    ['quorumSize a bigint', { validatorCount: 4, quorumSize: 3n }, /s\.quorumSize/],
  ];
  for (const [what, extra, message] of bad) {
    it(`${what} is INVALID_ARGUMENT naming the field`, () => {
      const input = { ...roundState(1, 1), ...extra };
      expect(codeOf(() => checkRoundState('s', input))).toBe('INVALID_ARGUMENT');
      expect(() => checkRoundState('s', input)).toThrow(message);
    });
  }

  it('a bad field rejects saveRoundState with INVALID_ARGUMENT, and nothing is written', async () => {
    const { store, log } = await openMemoryRounds();
    const lsn = log.nextLsn;
    for (const [, extra] of bad) {
      const err = await store.saveRoundState({ ...roundState(1, 1), ...extra } as RoundState).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isStoreError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    }
    expect(log.nextLsn).toBe(lsn);
    expect(await store.loadRoundState()).toBeUndefined();
  });

  it('roundStatesEqual tells states apart by each field', () => {
    expect(roundStatesEqual(full, { ...full })).toBe(true);
    expect(roundStatesEqual(full, { ...full, isProposer: false })).toBe(false);
    expect(roundStatesEqual(full, { ...full, validatorCount: 5 })).toBe(false);
    expect(roundStatesEqual(full, { ...full, quorumSize: 4 })).toBe(false);
    const { isProposer: _a, ...withoutProposerFlag } = full;
    expect(roundStatesEqual(full, withoutProposerFlag)).toBe(false);
  });
});

describe('the round-state record, versions 1 and 2', () => {
  it('a state with the fields round-trips exactly, as version 2', () => {
    for (const s of [full, roundState(1, 1, 'propose', { isProposer: false }), roundState(2, 3, 'commit', { validatorCount: 1, quorumSize: 1 })]) {
      const payload = encodeRoundStateRecord(s, 99);
      const tuple = packr.unpack(payload) as unknown[];
      expect(tuple[0]).toBe(2);
      expect(tuple).toHaveLength(17);
      expect(decodeRoundStateRecord(payload, 1)).toEqual({ state: s, recordedAt: 99 });
    }
  });

  it('a state without them is written as version 1, byte for byte as before the fields existed', () => {
    const s = roundState(7, 9, 'precommit', { proposer: 'v1' });
    expect(encodeRoundStateRecord(s, 99)).toEqual(versionOnePayload(s, 99));
  });

  it('a version-1 record decodes, the new fields absent (not even undefined keys)', () => {
    const s = roundState(7, 9, 'precommit', { proposer: 'v1' });
    const { state } = decodeRoundStateRecord(versionOnePayload(s, 5), 3);
    expect(state).toEqual(s);
    expect(Object.keys(state)).not.toContain('isProposer');
    expect(Object.keys(state)).not.toContain('validatorCount');
    expect(Object.keys(state)).not.toContain('quorumSize');
  });

  it('a tuple of the wrong length for its version, or bad version-2 values, is CORRUPTION naming the LSN', () => {
    const v1 = packr.unpack(versionOnePayload(roundState(1, 1, 'precommit'), 5)) as unknown[];
    const payloads = [
      packr.pack([1, ...v1.slice(1), true, 4, 3]),
      packr.pack([2, ...v1.slice(1)]),
      packr.pack([3, ...v1.slice(1), true, 4, 3]),
      packr.pack([2, ...v1.slice(1), 'yes', 4, 3]),
      packr.pack([2, ...v1.slice(1), true, 4, 5]),
      packr.pack([2, ...v1.slice(1), true, 4, null]),
      packr.pack([2, ...v1.slice(1), true, 0, 0]),
    ];
    for (const payload of payloads) {
      expect(codeOf(() => decodeRoundStateRecord(payload, 61))).toBe('CORRUPTION');
      expect(() => decodeRoundStateRecord(payload, 61)).toThrow(/LSN 61/);
    }
    // Version 2 with all three null is well formed (the fields absent), though never written.
    expect(decodeRoundStateRecord(packr.pack([2, ...v1.slice(1), null, null, null]), 1).state).toEqual(roundState(1, 1, 'precommit'));
  });
});

describe('the fields through the store', () => {
  it('survive a replay and the local image section, beside version-1 checkpoints', async () => {
    const first = await openMemoryRounds();
    const old = roundState(1, 1, 'precommit', { proposer: 'v1' });
    // A checkpoint written before the fields existed, as replay meets it.
    await first.log.append([{ kind: RecordKind.RoundState, payload: versionOnePayload(old, 5) }]);
    await first.log.close();
    const opened = await openMemoryRounds(first.disk);
    expect((await opened.store.loadRoundState())?.state).toEqual(old);
    const saved = await opened.store.saveRoundState(roundState(2, 2, 'prevote', { isProposer: true, validatorCount: 4, quorumSize: 3 }));
    expect(saved.state).toMatchObject({ isProposer: true, validatorCount: 4, quorumSize: 3 });

    await opened.log.close();
    const reopened = await openMemoryRounds(opened.disk);
    const states = (await reopened.store.listRoundStates()).items.map((s) => s.state);
    expect(states).toEqual([old, saved.state]);

    const w = new ImageWriter();
    reopened.store.captureImage()(w);
    const fromImage = new LogRoundStateStore({ log: reopened.log, now: tickingClock() });
    fromImage.loadImage(new ImageReader(w.finish()));
    expect((await fromImage.listRoundStates()).items).toEqual((await reopened.store.listRoundStates()).items);
    expect(Object.keys((await fromImage.getRoundStateAt(1))!.state)).not.toContain('isProposer');
    await reopened.log.close();
  });

  it('a change of isProposer, validatorCount or quorumSize alone is checkpointed under any interval', async () => {
    const { store } = await openMemoryRounds(undefined, { checkpointInterval: 1000 });
    await store.saveRoundState(roundState(1, 1, 'propose', { isProposer: false, validatorCount: 4, quorumSize: 3 }));
    expect(store.shouldCheckpoint(roundState(1, 1, 'prevote', { isProposer: false, validatorCount: 4, quorumSize: 3 }))).toBe(false);
    expect(store.shouldCheckpoint(roundState(1, 1, 'prevote', { isProposer: true, validatorCount: 4, quorumSize: 3 }))).toBe(true);
    expect(store.shouldCheckpoint(roundState(1, 1, 'prevote', { isProposer: false, validatorCount: 5, quorumSize: 4 }))).toBe(true);
    expect(store.shouldCheckpoint(roundState(1, 1, 'prevote'))).toBe(true);
  });
});
