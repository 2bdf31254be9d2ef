/**
 * The options of `openStore` and `openStoreOnLog` (src/store-options.ts): every level rejects a
 * key it does not know with INVALID_ARGUMENT naming it (a misspelt or moved option is never a
 * silent default), a bad value is rejected before anything is created (no directory on a real
 * disk, no file on the simulated one), and `openStoreOnLog`, which takes no log options, rejects
 * them and closes the log it was given.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import { openStore, openStoreOnLog, type ConsensusStore, type OpenStoreOptions, type StoreOptions } from '../../src/store.ts';

const chainId = 'options-chain';
const signer = { privateKey: new Uint8Array(32).fill(3), validatorId: 'me', state: 'new-key' } as const;
const nodeKey = { privateKey: new Uint8Array(32).fill(4) };
/** Small segments: preallocating the default 64 MiB ones costs seconds here. */
const LOG = { segmentSize: 64 * 1024 };

/** Options of `openStore` without their location (each test puts them on a disk of its own). */
type Placed = Omit<OpenStoreOptions, 'dir' | 'fs'>;

/** What an open that must fail did instead. */
interface Refusal {
  readonly code: string;
  readonly argument: unknown;
  readonly message: string;
}

/** How `opening` failed; a store that opened is closed and reported as `opened`. */
async function refusal(opening: Promise<ConsensusStore>): Promise<Refusal> {
  return opening.then(
    async (store) => {
      await store.close();
      return { code: 'opened', argument: undefined, message: '' };
    },
    (err: unknown) => ({
      code: isStoreError(err) ? err.code : String(err),
      argument: isStoreError(err) ? err.details?.['argument'] : undefined,
      message: err instanceof Error ? err.message : String(err),
    }),
  );
}

const realDirs: string[] = [];
afterAll(() => {
  for (const dir of realDirs) rmSync(dir, { recursive: true, force: true });
});

/** A path under os.tmpdir() that does not exist yet (removed after the file's tests if an open created it). */
function freshRealDir(): string {
  const dir = join(tmpdir(), `cstore-options-${randomUUID()}`);
  realDirs.push(dir);
  expect(existsSync(dir)).toBe(false);
  return dir;
}

/** Opens `options` in a new directory on real files and on a new simulated disk; returns both outcomes and what each left. */
async function openOnBoth(options: Placed, seed: number): Promise<{ real: Refusal; sim: Refusal; realDirExists: boolean; simFiles: string[]; simRoot: string[] }> {
  const dir = freshRealDir();
  const real = await refusal(openStore({ ...options, dir } as OpenStoreOptions));
  const disk = new SimulatedDisk({ seed });
  const sim = await refusal(openStore({ ...options, dir: '/data', fs: disk.fs() } as OpenStoreOptions));
  return { real, sim, realDirExists: existsSync(dir), simFiles: disk.listFiles(), simRoot: await disk.fs().readdir('/') };
}

describe('openStore: an unknown key is INVALID_ARGUMENT at every level', () => {
  const cases: readonly { readonly where: string; readonly options: Record<string, unknown>; readonly argument: string; readonly suggests?: string }[] = [
    { where: 'the top level', options: { durabilty: 'none' }, argument: 'options.durabilty' },
    { where: 'log', options: { log: { ...LOG, durabilty: 'none' } }, argument: 'options.log.durabilty', suggests: 'durability' },
    { where: 'signer', options: { signer: { ...signer, stat: 'new-key' } }, argument: 'options.signer.stat', suggests: 'state' },
    {
      where: 'signer.importWatermark',
      options: { signer: { ...signer, importWatermark: { height: 1, round: 1, steps: 'prevote' } } },
      argument: 'options.signer.importWatermark.steps',
      suggests: 'step',
    },
    { where: 'audit', options: { audit: { keyfile: '/elsewhere/node.key' } }, argument: 'options.audit.keyfile', suggests: 'keyFile' },
    {
      where: 'audit.nodeKey',
      options: { audit: { nodeKey: { ...nodeKey, publickey: publicKeyOf(nodeKey.privateKey) } } },
      argument: 'options.audit.nodeKey.publickey',
      suggests: 'publicKey',
    },
    { where: 'limits', options: { limits: { vote: { maxQueryLimit: 10 } } }, argument: 'options.limits.vote', suggests: 'votes' },
    { where: 'limits.votes', options: { limits: { votes: { maxQueryLimits: 10 } } }, argument: 'options.limits.votes.maxQueryLimits', suggests: 'maxQueryLimit' },
    { where: 'limits.audit', options: { limits: { audit: { maxEvents: 10 } } }, argument: 'options.limits.audit.maxEvents' },
    {
      where: 'voteVerification',
      options: { voteVerification: { publicKeyOf: () => undefined, strict: true } },
      argument: 'options.voteVerification.strict',
    },
    { where: 'rounds', options: { rounds: { checkpointIntervl: 10 } }, argument: 'options.rounds.checkpointIntervl', suggests: 'checkpointInterval' },
  ];

  for (const [i, { where, options, argument, suggests }] of cases.entries()) {
    it(`${where}: names ${argument}${suggests === undefined ? '' : `, suggests ${suggests}`}, and creates nothing`, async () => {
      const outcome = await openOnBoth({ chainId, log: LOG, ...options } as Placed, 100 + i);
      for (const r of [outcome.real, outcome.sim]) {
        expect(r.code).toBe('INVALID_ARGUMENT');
        expect(r.argument).toBe(argument);
        expect(r.message).toContain(`${argument} is not an option here`);
        if (suggests === undefined) expect(r.message).not.toContain('did you mean');
        else expect(r.message).toContain(`(did you mean ${suggests}?)`);
      }
      expect(outcome.realDirExists).toBe(false);
      expect(outcome.simFiles).toEqual([]);
      expect(outcome.simRoot).toEqual([]);
    });
  }

  it('refuses every flat option of the old layout at the top level, by name', async () => {
    const old: Record<string, unknown> = {
      identity: { privateKey: signer.privateKey, validatorId: 'me' },
      signState: 'new-key',
      allowFreshSignState: true,
      importWatermark: { height: 1, round: 1, step: 'prevote' },
      durability: 'none',
      nodeKey,
      nodeKeyFile: '/elsewhere/node.key',
      voteLimits: { maxQueryLimit: 10 },
      auditLimits: { maxQueryLimit: 10 },
      votePublicKey: () => undefined,
    };
    for (const [i, [key, value]] of Object.entries(old).entries()) {
      const disk = new SimulatedDisk({ seed: 200 + i });
      const r = await refusal(openStore({ dir: '/data', fs: disk.fs(), chainId, [key]: value } as OpenStoreOptions));
      expect(r, key).toMatchObject({ code: 'INVALID_ARGUMENT', argument: `options.${key}` });
      // It says where the option went.
      expect(r.message, key).toMatch(/is not an option any more: use options\.(signer|log|audit|limits|voteVerification)/);
      expect(disk.listFiles(), key).toEqual([]);
    }
  });
});

describe('openStore: a bad value is INVALID_ARGUMENT and creates nothing', () => {
  const otherKey = new Uint8Array(32).fill(9);
  const cases: readonly { readonly what: string; readonly options: Record<string, unknown>; readonly argument: string; readonly says?: string }[] = [
    { what: 'a 1 MB chain id', options: { chainId: 'c'.repeat(1024 * 1024) }, argument: 'options.chainId' },
    { what: 'a 31-byte signer private key', options: { signer: { ...signer, privateKey: new Uint8Array(31).fill(3) } }, argument: 'options.signer.privateKey' },
    { what: "signer.state 'bogus'", options: { signer: { ...signer, state: 'bogus' } }, argument: 'options.signer.state' },
    {
      what: 'a signer public key that is not the private key’s',
      options: { signer: { ...signer, publicKey: publicKeyOf(otherKey) } },
      argument: 'options.signer.publicKey',
      says: 'does not belong to options.signer.privateKey',
    },
    { what: "log.durability 'sometimes'", options: { log: { ...LOG, durability: 'sometimes' } }, argument: 'options.log.durability' },
    { what: 'a log segment size below the minimum', options: { log: { ...LOG, segmentSize: 100 } }, argument: 'options.log.segmentSize' },
    {
      what: 'vote limits whose default exceeds the maximum',
      options: { limits: { votes: { defaultQueryLimit: 5, maxQueryLimit: 3 } } },
      argument: 'options.limits.votes.defaultQueryLimit',
    },
    { what: 'an audit query limit of 0', options: { limits: { audit: { maxQueryLimit: 0 } } }, argument: 'options.limits.audit.maxQueryLimit' },
    { what: 'a checkpoint interval of -1', options: { rounds: { checkpointInterval: -1 } }, argument: 'options.rounds.checkpointInterval' },
    {
      what: 'an imported watermark at height -1',
      options: { signer: { ...signer, importWatermark: { height: -1, round: 1, step: 'prevote' } } },
      argument: 'options.signer.importWatermark.height',
    },
    {
      what: 'an audit node key whose public key is another key’s',
      options: { audit: { nodeKey: { ...nodeKey, publicKey: publicKeyOf(otherKey) } } },
      argument: 'options.audit.nodeKey.publicKey',
      says: 'is not the public key of the private key',
    },
  ];

  for (const [i, { what, options, argument, says }] of cases.entries()) {
    it(`${what}: names ${argument}`, async () => {
      const outcome = await openOnBoth({ chainId, log: LOG, ...options } as Placed, 300 + i);
      for (const r of [outcome.real, outcome.sim]) {
        expect(r.code).toBe('INVALID_ARGUMENT');
        expect(r.argument).toBe(argument);
        if (says !== undefined) expect(r.message).toContain(says);
      }
      expect(outcome.realDirExists).toBe(false);
      expect(outcome.simFiles).toEqual([]);
      expect(outcome.simRoot).toEqual([]);
    });
  }

  it('(the same options, valid, do create the directory: the checks above are not vacuous)', async () => {
    const outcome = await openOnBoth({ chainId, signer, audit: { nodeKey }, log: LOG }, 399);
    expect(outcome.real.code).toBe('opened');
    expect(outcome.sim.code).toBe('opened');
    expect(outcome.realDirExists).toBe(true);
    expect(outcome.simFiles.length).toBeGreaterThan(0);
    expect(outcome.simRoot).toEqual(['data']);
  });
});

describe('openStoreOnLog: no log options', () => {
  it("rejects durability (an option of openStore's own log) with INVALID_ARGUMENT and closes the log it was given", async () => {
    const log = MemoryLog.open();
    const r = await refusal(openStoreOnLog(log, { chainId, durability: 'none' } as unknown as StoreOptions));
    expect(r).toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'options.durability' });
    expect(r.message).toContain('options.durability is not an option here');
    expect(log.status).toBe('closed');
  });

  it('rejects the log group and a directory the same way, and closes the log', async () => {
    for (const [key, value] of [
      ['log', { durability: 'none' }],
      ['dir', '/data'],
    ] as const) {
      const log = MemoryLog.open();
      const r = await refusal(openStoreOnLog(log, { chainId, [key]: value } as unknown as StoreOptions));
      expect(r, key).toMatchObject({ code: 'INVALID_ARGUMENT', argument: `options.${key}` });
      expect(log.status, key).toBe('closed');
    }
  });

  it('rejects audit.keyFile (openStore only: there is no data directory here), and closes the log', async () => {
    const log = MemoryLog.open();
    const r = await refusal(openStoreOnLog(log, { chainId, audit: { keyFile: '/k' } } as unknown as StoreOptions));
    expect(r).toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'options.audit.keyFile' });
    expect(log.status).toBe('closed');
  });

  it('rejects an unknown nested key too (the groups are checked as in openStore), and closes the log', async () => {
    const log = MemoryLog.open();
    const r = await refusal(openStoreOnLog(log, { chainId, signer: { ...signer, allowFreshstate: true } } as unknown as StoreOptions));
    expect(r).toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'options.signer.allowFreshstate' });
    expect(r.message).toContain('did you mean allowFreshState?');
    expect(log.status).toBe('closed');
  });
});
