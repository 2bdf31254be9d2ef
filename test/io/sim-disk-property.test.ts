/**
 * Property of the simulated disk against a plain model of durable content: after any crash,
 * every byte of a file is its durable value, zero (a gap or a cut), or the value of one of the
 * pending writes covering it; synced content always survives whole. Prints its fast-check seed
 * (set FC_SEED to replay).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { FileHandle } from '../../src/io/types.ts';

type Command =
  | { kind: 'write'; file: number; offset: number; length: number; salt: number; sync: boolean }
  | { kind: 'truncate'; file: number; length: number }
  | { kind: 'datasync'; file: number }
  | { kind: 'crash' };

type PendingOp = { kind: 'write'; offset: number; bytes: Uint8Array } | { kind: 'truncate'; length: number };

interface FileModel {
  durable: Uint8Array;
  pending: PendingOp[];
}

const FILES = ['/d/a', '/d/b'];

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), file: fc.nat(1), offset: fc.nat(12_000), length: fc.integer({ min: 1, max: 6000 }), salt: fc.integer({ min: 1, max: 250 }), sync: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), file: fc.nat(1), length: fc.nat(15_000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('datasync' as const), file: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const) }) },
);

/** Distinct, non-zero-heavy bytes per write, so that the origin of a byte is telling. */
function pattern(length: number, salt: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (salt + i * 7) % 255 + 1;
  return out;
}

function applyOps(base: Uint8Array, ops: readonly PendingOp[]): Uint8Array {
  let bytes = base.slice();
  for (const op of ops) {
    const end = op.kind === 'write' ? op.offset + op.bytes.length : op.length;
    if (op.kind === 'truncate' || end > bytes.length) {
      const next = new Uint8Array(op.kind === 'write' ? Math.max(end, bytes.length) : end);
      next.set(bytes.subarray(0, Math.min(bytes.length, next.length)));
      bytes = next;
    }
    if (op.kind === 'write') bytes.set(op.bytes, op.offset);
  }
  return bytes;
}

/** Every way `got` breaks the crash rule for a file with this model; empty when it holds. */
function violations(model: FileModel, got: Uint8Array): string[] {
  const { durable, pending } = model;
  const problems: string[] = [];
  let maxLength = durable.length;
  let minCut = Infinity;
  for (const op of pending) {
    maxLength = Math.max(maxLength, op.kind === 'write' ? op.offset + op.bytes.length : op.length);
    if (op.kind === 'truncate') minCut = Math.min(minCut, op.length);
  }
  if (got.length > maxLength) problems.push(`length ${got.length} > ${maxLength}`);
  if (minCut === Infinity && got.length < durable.length) problems.push(`length ${got.length} < durable ${durable.length}`);
  for (let i = 0; i < got.length && problems.length < 5; i++) {
    const b = got[i];
    if (i < durable.length && b === durable[i]) continue;
    if (b === 0 && (i >= durable.length || i >= minCut)) continue;
    const fromWrite = pending.some((op) => op.kind === 'write' && i >= op.offset && i < op.offset + op.bytes.length && op.bytes[i - op.offset] === b);
    if (!fromWrite) problems.push(`byte ${i} = ${b}`);
  }
  return problems;
}

describe('simulated disk: crash property', () => {
  it('after a crash every byte is durable, zero, or from a pending write covering it', async () => {
    const seed = Number(process.env.FC_SEED ?? Date.now());
    console.log(`sim-disk crash property: fast-check seed ${seed} (FC_SEED=${seed} to replay)`);
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.array(commandArb, { maxLength: 40 }), async (diskSeed, commands) => {
        const disk = new SimulatedDisk({ seed: diskSeed });
        let fs = disk.fs();
        await fs.mkdir('/d');
        await fs.syncDir('/');
        const models: FileModel[] = [];
        for (const path of FILES) {
          await (await fs.open(path, 'create')).close();
          models.push({ durable: new Uint8Array(0), pending: [] });
        }
        await fs.syncDir('/d');
        const handles: Array<FileHandle | undefined> = [];
        const handle = async (file: number): Promise<FileHandle> => {
          const open = handles[file] ?? (await fs.open(FILES[file] ?? '', 'readwrite'));
          handles[file] = open;
          return open;
        };
        const crash = (): void => {
          FILES.forEach((path, file) => {
            const model = models[file] as FileModel;
            const now = disk.readFileNow(path) ?? new Uint8Array(0);
            const expected = applyOps(model.durable, model.pending);
            if (!Buffer.from(now).equals(Buffer.from(expected))) expect(now).toEqual(expected);
          });
          disk.crash();
          fs = disk.fs();
          handles.length = 0;
          FILES.forEach((path, file) => {
            const model = models[file] as FileModel;
            const got = disk.readFileNow(path);
            expect(got).toBeDefined();
            expect(violations(model, got ?? new Uint8Array(0))).toEqual([]);
            models[file] = { durable: got ?? new Uint8Array(0), pending: [] };
          });
        };
        for (const command of commands) {
          if (command.kind === 'crash') {
            crash();
            continue;
          }
          const model = models[command.file] as FileModel;
          const h = await handle(command.file);
          if (command.kind === 'write') {
            const bytes = pattern(command.length, command.salt);
            if (command.sync) await h.writeAndSync([bytes], command.offset);
            else await h.write([bytes], command.offset);
            model.pending.push({ kind: 'write', offset: command.offset, bytes });
          } else if (command.kind === 'truncate') {
            await h.truncate(command.length);
            model.pending.push({ kind: 'truncate', length: command.length });
          }
          if (command.kind === 'datasync' || (command.kind === 'write' && command.sync)) {
            if (command.kind === 'datasync') await h.datasync();
            model.durable = applyOps(model.durable, model.pending);
            model.pending = [];
          }
        }
        crash();
      }),
      { seed, numRuns: 400 },
    );
  });
});
