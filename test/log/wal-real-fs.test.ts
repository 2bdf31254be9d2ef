/**
 * The log on the real file system (node:fs through `defaultFileSystem`): a durable round trip
 * with rotations, a reopen, and LOCKED for a second opener in the same process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLog } from '../../src/log/wal.ts';
import { appendRange, collect, payloadFor } from './wal-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-wal-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('on the real file system', () => {
  it('appends durably across rotations, reopens with every record, and refuses a second opener', async () => {
    const dir = join(root, 'a');
    const log = await openLog({ dir, segmentSize: 8192 });
    for (let n = 0; n < 200; n += 20) await appendRange(log, n, n + 20);
    await expect(openLog({ dir, segmentSize: 8192 })).rejects.toMatchObject({ code: 'LOCKED' });
    await log.close();
    const again = await openLog({ dir, segmentSize: 8192 });
    expect(again.openReport.recordsScanned).toBe(200);
    expect(again.openReport.segmentsScanned).toBeGreaterThan(2);
    const records = await collect(again);
    records.forEach((r, i) => expect(r.payload).toEqual(payloadFor(i)));
    await again.close();
  });
});
