/**
 * The CORRUPTION an open reports on damage it could repair, with the way forward in its message:
 * the operator command (`cstore unsafe-repair <dir>`, with the node stopped) and the API option
 * (`log: { repair: true }`), so that whoever reads the error learns that a repair exists, what it
 * costs (the damaged batches), and where it is described (docs/operations.md, "Repair").
 *
 * This file must never decide whether damage is repairable: open.ts calls it only where repair
 * mode would act.
 */
import { ConsensusStoreError } from '../errors.ts';

/** The sentence appended to every repairable CORRUPTION of an open of the log in `dir`. */
export function repairHint(dir: string): string {
  return `To drop the damaged batches and keep every intact one: stop the node, run \`cstore unsafe-repair ${dir}\` (API: openStore({ ..., log: { repair: true } })); docs/operations.md, "Repair"`;
}

/**
 * A CORRUPTION naming `file` and `offset` (in `location`, as `corruption` does) whose message
 * ends with `repairHint(dir)`.
 */
export function repairableCorruption(file: string, offset: number, problem: string, dir: string): ConsensusStoreError {
  return new ConsensusStoreError('CORRUPTION', `${problem} (file ${file}, offset ${offset}). ${repairHint(dir)}`, {
    location: { file, offset },
  });
}
