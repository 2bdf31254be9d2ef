/**
 * The data directory's identity: the chain id it belongs to, recorded once (kind StoreIdentity)
 * by the first `openStore` and checked at every later open, before any record that depends on
 * the chain id (evidence content ids, audit hashes, sign bytes) is replayed. Opening a node's
 * directory under another chain id is an operator mistake that must fail loudly, not surface
 * as a CORRUPTION deep in some store's replay.
 *
 * Payload: u8 version (1), u16 length, the chain id's UTF-8 bytes. It must never be written twice.
 * Image section (tag 1): u32 version, flag recorded, and when recorded the chain id's text.
 */
import { RecordKind } from '../codec/kinds.ts';
import { ConsensusStoreError, corruption } from '../errors.ts';
import type { Log, LogRecord } from '../log/types.ts';
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import type { ImageSection, RecordApplier } from './context.ts';
import { readSectionVersion, writeSectionVersion } from './image-common.ts';

const VERSION = 1;

/** Encodes the identity record's payload. */
export function encodeStoreIdentity(chainId: string): Uint8Array {
  const text = new TextEncoder().encode(chainId);
  const out = new Uint8Array(3 + text.length);
  out[0] = VERSION;
  new DataView(out.buffer).setUint16(1, text.length, true);
  out.set(text, 3);
  return out;
}

/** Decodes the identity record's payload. @throws CORRUPTION when it is malformed. */
export function decodeStoreIdentity(record: LogRecord): string {
  const p = record.payload;
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p.length < 3 || p[0] !== VERSION || view.getUint16(1, true) !== p.length - 3) {
    throw corruption(`LSN ${record.lsn}`, 0, 'store identity record is malformed');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(p.subarray(3));
  } catch {
    throw corruption(`LSN ${record.lsn}`, 3, 'store identity chain id is not UTF-8');
  }
}

/**
 * The chain id recorded in `log`, read from its first record only (the identity is the first
 * thing `openStore` writes); undefined for a log that has none (written by `openStoreOnLog`).
 */
export async function readRecordedChainId(log: Log): Promise<string | undefined> {
  let chainId: string | undefined;
  await log.scan((record) => {
    if (record.kind === RecordKind.StoreIdentity) chainId = decodeStoreIdentity(record);
    return false;
  });
  return chainId;
}

/** Replays and checks the identity record against the chain id the store is opened with. */
export class StoreIdentity implements RecordApplier, ImageSection {
  readonly kinds: readonly number[] = [RecordKind.StoreIdentity];
  /** Its section's tag in the local state image. */
  readonly imageTag = 1;
  readonly #chainId: string;
  #recorded = false;

  constructor(chainId: string) {
    this.#chainId = chainId;
  }

  /** @throws INVALID_ARGUMENT when the directory belongs to another chain; CORRUPTION on a second identity record. */
  apply(record: LogRecord): void {
    if (this.#recorded) throw corruption(`LSN ${record.lsn}`, 0, 'a second store identity record');
    const recorded = decodeStoreIdentity(record);
    if (recorded !== this.#chainId) {
      throw new ConsensusStoreError('INVALID_ARGUMENT', `options.chainId is '${this.#chainId}' but this data directory belongs to chain '${recorded}'`, {
        details: { argument: 'options.chainId', recorded },
      });
    }
    this.#recorded = true;
  }

  /** Whether the identity record is in the log (replayed, loaded or written). */
  get recorded(): boolean {
    return this.#recorded;
  }

  /** Captures whether the identity is recorded (and the chain id it records). */
  captureImage(): (w: ImageWriter) => void {
    const recorded = this.#recorded;
    const chainId = this.#chainId;
    return (w) => {
      writeSectionVersion(w);
      w.flag(recorded);
      if (recorded) w.text(chainId);
    };
  }

  /** Loads the section. @throws Error on malformed bytes or a chain id other than this store's. */
  loadImage(r: ImageReader): void {
    readSectionVersion(r, 'store identity');
    const recorded = r.flag();
    if (recorded) {
      const chainId = r.text(4096);
      if (chainId !== this.#chainId) throw new Error(`the image records chain '${chainId}', not '${this.#chainId}'`);
    }
    r.end();
    this.#recorded = recorded;
  }

  /** Writes the identity record if the log has none yet. */
  async ensureRecorded(log: Log): Promise<void> {
    if (this.#recorded) return;
    await log.append([{ kind: RecordKind.StoreIdentity, payload: encodeStoreIdentity(this.#chainId) }]);
    this.#recorded = true;
  }
}
