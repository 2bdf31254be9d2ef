/**
 * The node key file (src/stores/node-key-file.ts): created on first use, durably, loaded
 * unchanged afterwards and after a crash; a damaged file is CORRUPTION and never overwritten.
 */
import { describe, expect, it } from 'vitest';
import { decodeNodeKeyFile, ed25519PublicKey, encodeNodeKeyFile, generateNodeKey } from '../../src/codec/node-key.ts';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { loadOrCreateNodeKey } from '../../src/stores/node-key-file.ts';

describe('node key file', () => {
  it('is created on first use, durably, and loaded unchanged afterwards, also after a crash', async () => {
    const disk = new SimulatedDisk({ seed: 3 });
    await disk.fs().mkdir('/keys');
    await disk.fs().syncDir('/');
    const first = await loadOrCreateNodeKey(disk.fs(), '/keys/node.key');
    expect(first.created).toBe(true);
    expect(first.key.publicKey).toEqual(ed25519PublicKey(first.key.privateKey));
    disk.crash();
    const second = await loadOrCreateNodeKey(disk.fs(), '/keys/node.key');
    expect(second).toEqual({ key: first.key, created: false });
  });

  it('refuses a damaged key file with CORRUPTION and never overwrites it', async () => {
    const disk = new SimulatedDisk({ seed: 4 });
    const fs = disk.fs();
    const { key } = await loadOrCreateNodeKey(fs, '/node.key');
    const text = encodeNodeKeyFile(key);
    expect(decodeNodeKeyFile(text, '/node.key')).toEqual(key);
    const other = encodeNodeKeyFile({ privateKey: key.privateKey, publicKey: generateNodeKey().publicKey });
    for (const bad of [other, text.subarray(0, 40), Uint8Array.of(0xff, 0xfe), new TextEncoder().encode('hello\n')]) {
      let err: unknown;
      try {
        decodeNodeKeyFile(bad, '/node.key');
      } catch (e) {
        err = e;
      }
      expect(isStoreError(err, 'CORRUPTION')).toBe(true);
    }
    disk.overwrite('/node.key', 30, Uint8Array.of(0x7a));
    await expect(loadOrCreateNodeKey(fs, '/node.key')).rejects.toMatchObject({ code: 'CORRUPTION' });
    expect(disk.readFileNow('/node.key')?.[30]).toBe(0x7a);
  });
});
