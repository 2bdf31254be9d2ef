// ConsensusStoreError: the message is the plain message; the code is in `code`, in String(err) and
// in the first line of the stack, once each.
import { describe, expect, it } from 'vitest';
import { ConsensusStoreError, corruption, invalidArgument } from '../src/errors.ts';

describe('ConsensusStoreError', () => {
  it('keeps the code out of the message and puts it in String(err) and the stack', () => {
    const err = new ConsensusStoreError('LOCKED', '/data/LOCK is locked by pid 7');
    expect(err.message).toBe('/data/LOCK is locked by pid 7');
    expect(err.name).toBe('ConsensusStoreError');
    expect(err.code).toBe('LOCKED');
    expect(String(err)).toBe('ConsensusStoreError [LOCKED]: /data/LOCK is locked by pid 7');
    expect(err.stack?.split('\n')[0]).toBe('ConsensusStoreError [LOCKED]: /data/LOCK is locked by pid 7');
    expect(err).toBeInstanceOf(Error);
  });

  it('the shorthands build plain messages too', () => {
    expect(invalidArgument('limit', 'must be positive').message).toBe('limit must be positive');
    expect(corruption('wal/1.wal', 12, 'bad crc').message).toBe('bad crc (file wal/1.wal, offset 12)');
  });
});
