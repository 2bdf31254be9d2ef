/**
 * `cstore rotate-key <dir> [--lost]`: rotates the node key, the key that signs the audit chain
 * (docs/operations.md, "Rotating the node key" and "A lost node key"). A thin front of
 * `rotateNodeKey` (src/key-rotation.ts): the chain id comes from the directory's own record
 * unless given, and the report says which key the chain now records and what a verifier needs.
 */
import { invalidArgument } from '../errors.ts';
import { defaultFileSystem } from '../io/real-fs.ts';
import { rotateNodeKey, type RotateNodeKeyReport } from '../key-rotation.ts';
import { CliError, Exit } from './exit.ts';
import { openDir, requireDir } from './read-only.ts';

/** Options of `runRotateKey`. */
export interface RotateKeyOptions {
  readonly json: boolean;
  readonly lost: boolean;
  readonly chainId?: string | undefined;
  readonly print: (text: string) => Promise<void>;
}

/** Runs the command; resolves with the exit code. */
export async function runRotateKey(dir: string, o: RotateKeyOptions): Promise<number> {
  const fs = defaultFileSystem();
  await requireDir(fs, dir);
  const opened = await openDir(dir, fs);
  const recorded = opened.recordedChainId;
  await opened.log.close();
  if (o.chainId !== undefined && recorded !== undefined && o.chainId !== recorded) {
    throw new CliError('WRONG_CHAIN', `the directory belongs to chain '${recorded}', not '${o.chainId}'`, Exit.CHECK_FAILED);
  }
  const chainId = recorded ?? o.chainId;
  if (chainId === undefined) throw invalidArgument('--chain-id', 'is needed: the directory records no chain id');
  const report: RotateNodeKeyReport = await rotateNodeKey({ dir, chainId, lostKey: o.lost });
  if (o.json) {
    await o.print(JSON.stringify({ dir, ...report }));
    return Exit.OK;
  }
  await o.print(`${report.resumed ? 'finished an interrupted rotation' : 'rotated'} the node key of ${dir} (audit entry ${report.sequence})`);
  await o.print(`  old key ${report.oldPublicKey}`);
  await o.print(`  new key ${report.newPublicKey} (in ${report.keyFile}, mode 0600)`);
  if (report.lostKey) {
    await o.print('The old key was lost, so the new key signed its own rotation: a verifier that trusts only the old key');
    await o.print('rejects the chain from this entry on. Hand verifiers the new public key above (cstore verify uses node.key).');
  } else {
    await o.print('The old key signed the rotation: a verifier that trusts the old key accepts the new one.');
  }
  await o.print('Back up the new node.key (cstore backup --include-key) before the node starts.');
  return Exit.OK;
}

