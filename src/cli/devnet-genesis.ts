/**
 * The devnet's genesis: validator ids, keys and stakes, created on the first run in
 * `<dir>/genesis.json` and read back on every later run (so re-running resumes the same chain).
 * Also remembers which validators were ever run byzantine, so the verdict never calls a
 * validator honest that equivocated in an earlier run.
 *
 * Files go through the io/ FileSystem (D9, docs/durability.md). The private keys are in the file: a devnet
 * is a local toy chain, and this file must never hold a real validator's key. It is written
 * readable by its owner only (0600, like node.key), and a looser file from an earlier version
 * is rewritten so.
 */
import { join } from 'node:path';
import { publicKeyOf, randomPrivateKey } from '../codec/vote-sign.ts';
import { toHex } from '../codec/bytes.ts';
import type { ConsensusValidator } from '../consensus/types.ts';
import { ValidatorSet } from '../consensus/validator-set.ts';
import { defaultFileSystem } from '../io/real-fs.ts';
import type { FileSystem } from '../io/types.ts';
import { invalidArgument } from '../errors.ts';

/** The chain id of every devnet. */
export const DEVNET_CHAIN_ID = 'cstore-devnet';
/** The mode of genesis.json: it holds private keys. */
export const GENESIS_FILE_MODE = 0o600;
/** Stake of each devnet validator. */
export const DEVNET_STAKE = 1_000_000n;

/** One validator of the genesis file (which names it `id`: the file's format is unchanged). */
export interface GenesisValidator {
  readonly validatorId: string;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly stake: bigint;
}

/** The genesis of a devnet directory. */
export interface Genesis {
  readonly chainId: string;
  readonly validators: readonly GenesisValidator[];
  /** Validators that ran byzantine in any run on this directory. */
  readonly everByzantine: readonly string[];
  readonly createdAt: string;
}

/** The data directory of validator `id` under the devnet directory. */
export function nodeStoreDir(devnetDir: string, id: string): string {
  return join(devnetDir, id);
}

/** The path of the genesis file in `dir`. */
export function genesisPath(dir: string): string {
  return join(dir, 'genesis.json');
}

/** The consensus validator set of a genesis. */
export function validatorSetOf(genesis: Genesis): ValidatorSet {
  const validators: ConsensusValidator[] = genesis.validators.map((v) => ({ validatorId: v.validatorId, publicKey: v.publicKey, stake: v.stake }));
  return new ValidatorSet(validators, genesis.chainId);
}

function serialize(g: Genesis): Uint8Array {
  const json = {
    chainId: g.chainId,
    createdAt: g.createdAt,
    everByzantine: g.everByzantine,
    validators: g.validators.map((v) => ({ id: v.validatorId, privateKey: toHex(v.privateKey), publicKey: toHex(v.publicKey), stake: v.stake.toString() })),
  };
  return new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`);
}

/** Reads `<dir>/genesis.json`; undefined when absent. Throws on a malformed file. */
export async function readGenesis(dir: string, fs: FileSystem = defaultFileSystem()): Promise<Genesis | undefined> {
  const path = genesisPath(dir);
  if ((await fs.stat(path)) === undefined) return undefined;
  const raw = JSON.parse(new TextDecoder().decode(await fs.readFile(path))) as {
    chainId: string;
    createdAt: string;
    everByzantine: string[];
    validators: { id: string; privateKey: string; publicKey: string; stake: string }[];
  };
  return {
    chainId: raw.chainId,
    createdAt: raw.createdAt,
    everByzantine: raw.everByzantine,
    validators: raw.validators.map((v) => ({ validatorId: v.id, privateKey: Buffer.from(v.privateKey, 'hex'), publicKey: Buffer.from(v.publicKey, 'hex'), stake: BigInt(v.stake) })),
  };
}

/** Writes the genesis file durably (temp file created 0600, fsync, rename, directory fsync). */
export async function writeGenesis(dir: string, genesis: Genesis, fs: FileSystem = defaultFileSystem()): Promise<void> {
  await fs.mkdir(dir);
  const tmp = `${genesisPath(dir)}.tmp`;
  // The mode applies only when the open creates the file: a temp file left by a crash goes first.
  if ((await fs.stat(tmp)) !== undefined) await fs.unlink(tmp);
  const handle = await fs.open(tmp, 'create', { fileMode: GENESIS_FILE_MODE });
  try {
    await handle.truncate(0);
    await handle.writeAndSync([serialize(genesis)], 0);
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, genesisPath(dir));
  await fs.syncDir(dir);
}

/**
 * The genesis of `dir`: read back when it exists (it must have `validators` validators), else
 * created with fresh random keys. `byzantine` ids are added to `everByzantine`.
 * @throws ConsensusStoreError INVALID_ARGUMENT when the directory holds a devnet of another size.
 */
export async function loadOrCreateGenesis(dir: string, validators: number, byzantine: readonly string[]): Promise<{ genesis: Genesis; created: boolean }> {
  const existing = await readGenesis(dir);
  if (existing !== undefined) {
    if (existing.validators.length !== validators) {
      throw invalidArgument('--validators', `${dir} holds a devnet of ${existing.validators.length} validators: run with --validators ${existing.validators.length} or another --dir`);
    }
    const ever = [...new Set([...existing.everByzantine, ...byzantine])].sort();
    const genesis = { ...existing, everByzantine: ever };
    const readableByOthers = (((await defaultFileSystem().stat(genesisPath(dir)))?.mode ?? 0) & 0o077) !== 0;
    if (ever.length !== existing.everByzantine.length || readableByOthers) await writeGenesis(dir, genesis);
    return { genesis, created: false };
  }
  const list: GenesisValidator[] = Array.from({ length: validators }, (_, i) => {
    const privateKey = randomPrivateKey();
    return { validatorId: `v${i}`, privateKey, publicKey: publicKeyOf(privateKey), stake: DEVNET_STAKE };
  });
  const genesis: Genesis = { chainId: DEVNET_CHAIN_ID, validators: list, everByzantine: [...byzantine].sort(), createdAt: new Date().toISOString() };
  await writeGenesis(dir, genesis);
  return { genesis, created: true };
}
