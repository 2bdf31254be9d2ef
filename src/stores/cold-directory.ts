/**
 * The cold directory of one data directory as the compactor uses it (docs/format.md, "Cold
 * files"): the tier the stores read, a cold file written per store and compaction, the manifest
 * switch that commits them, and the removal of files a failed compaction wrote.
 *
 * It must never commit a file that is not durable (writeColdFile fsyncs before it renames), let
 * the tier answer from a manifest that is not committed, or overwrite a cold file.
 */
import type { FileSystem } from '../io/types.ts';
import { writeColdFile } from '../cold/cold-file.ts';
import type { ColdFileInfo } from '../cold/cold-file-info.ts';
import { COLD_FILE_SUFFIX } from '../cold/cold-file-info.ts';
import { coldDirOf, commitColdManifest } from '../cold/cold-manifest.ts';
import { FileColdTier } from '../cold/file-tier.ts';
import type { ColdCut, ColdKeys, ColdRecord } from '../cold/types.ts';
import type { ColdDirectory } from './compactor.ts';

/** The records of `source`, or undefined when it yields none (a cold file holds at least one). */
async function nonEmpty(source: AsyncIterable<ColdRecord>): Promise<AsyncIterable<ColdRecord> | undefined> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done === true) return undefined;
  return (async function* () {
    yield first.value;
    for (;;) {
      const next = await it.next();
      if (next.done === true) return;
      yield next.value;
    }
  })();
}

/** The cold directory of `storeDir` over files (see the file comment). */
export class FileColdDirectory implements ColdDirectory {
  readonly tier: FileColdTier;
  readonly #fs: FileSystem;
  readonly #storeDir: string;
  readonly #chainId: string;

  private constructor(fs: FileSystem, storeDir: string, chainId: string, tier: FileColdTier) {
    this.#fs = fs;
    this.#storeDir = storeDir;
    this.#chainId = chainId;
    this.tier = tier;
  }

  /**
   * Opens the cold directory of `storeDir` (its manifest read, the leftovers of an interrupted
   * compaction removed). Errors as `openColdDir`'s.
   */
  static async open(fs: FileSystem, storeDir: string, chainId: string): Promise<FileColdDirectory> {
    return new FileColdDirectory(fs, storeDir, chainId, await FileColdTier.open(fs, storeDir, chainId));
  }

  async writeFile(name: string, records: AsyncIterable<ColdRecord>, keysOf: (record: ColdRecord) => ColdKeys): Promise<ColdFileInfo | undefined> {
    const some = await nonEmpty(records);
    if (some === undefined) return undefined;
    return writeColdFile(this.#fs, coldDirOf(this.#storeDir), `${name}${COLD_FILE_SUFFIX}`, some, keysOf);
  }

  async commit(cut: ColdCut, files: readonly unknown[]): Promise<void> {
    const added = files.filter((f): f is ColdFileInfo => f !== undefined);
    const committed = await commitColdManifest(this.#fs, this.#storeDir, { chainId: this.#chainId, cut, files: [...this.tier.manifest.files, ...added] });
    this.tier.adopt(committed);
  }

  async discard(files: readonly unknown[]): Promise<void> {
    for (const f of files) {
      if (f === undefined) continue;
      await this.#fs.unlink(`${coldDirOf(this.#storeDir)}/${(f as ColdFileInfo).name}`).catch(() => undefined);
    }
  }
}
