/**
 * The SnapshotStore interface (docs/stores.md, "Snapshots"): portable snapshots of the
 * finalized state, which every honest node writes byte for byte the same at one height, so that
 * validators can attest their root and a new node can trust it. (Local state images, which make
 * the open fast, are a different file: docs/durability.md, "Images".)
 */
import type { DecisionCertificate, SnapshotChange } from '../codec/snapshot-content.ts';
import type { Validator } from '../model/validator.ts';

export type { CertificateVote, DecisionCertificate, SnapshotChange } from '../codec/snapshot-content.ts';

/** A validator's signature over a snapshot's (chain id, height, root) (`snapshotAttestationBytes`). */
export interface SnapshotAttestation {
  readonly validatorId: string;
  /** 64-byte ed25519 signature. */
  readonly signature: Uint8Array;
}

/** What describes one portable snapshot file. */
export interface SnapshotMetadata {
  /** Unique in this directory, even for two snapshots of one height: `<height, 12 digits>-<sequence, 6 digits>`. */
  readonly id: string;
  /** The finalized height it holds the state of. */
  readonly height: number;
  /** The round `height` was decided in. */
  readonly round: number;
  /** When this node created the file (ms since the epoch; node-local, outside the root). */
  readonly timestamp: number;
  /** Validators in the set at `height` (every status). */
  readonly validatorCount: number;
  /** The active stake at `height`. */
  readonly totalVotingPower: bigint;
  /** Bytes of the file. */
  readonly fileSize: number;
  /** The Merkle root over the content's chunks (32 bytes): what validators attest. */
  readonly merkleRoot: Uint8Array;
  readonly chainId: string;
  /** Container format version. */
  readonly formatVersion: number;
  readonly chunkSize: number;
  readonly chunkCount: number;
  /** Heights with a decision certificate in the snapshot. */
  readonly certificateCount: number;
  /** The attestations collected so far, the creating node's own first (when it is a validator). */
  readonly attestations: readonly SnapshotAttestation[];
}

/** What `loadFromSnapshot` returns: the snapshot's content, checked. */
export interface ConsensusSnapshot {
  readonly metadata: SnapshotMetadata;
  /** The set at `metadata.height`, in id order, with keys and stakes. */
  readonly validators: readonly Validator[];
  /** Every registry change up to `metadata.height` (as far as this node retains it). */
  readonly registryHistory: readonly SnapshotChange[];
  /**
   * For each finalized height of the window (ascending; the last is `metadata.height`'s), a
   * quorum of precommits for the decided block: the validators in id order, the first whose
   * stake passes two thirds of the active stake (so every honest node holding those votes
   * writes the same certificate).
   */
  readonly decisions: readonly DecisionCertificate[];
  /** The last finalized height and round (`metadata.height` and `.round`). */
  readonly lastFinalized: { readonly height: number; readonly round: number };
  /** The latest precommit time in the tip's certificate. */
  readonly decidedAt: number;
}

/** Options of `createSnapshot`. */
export interface CreateSnapshotOptions {
  /** A finalized height (default: the last finalized one). */
  readonly height?: number;
}

/**
 * Portable snapshots on one node. Round state and pending proposals are node-private and never
 * in a portable snapshot (they are in the local image); `loadFromSnapshot` hands back the
 * finalized state only.
 */
export interface SnapshotStore {
  /**
   * Writes a portable snapshot of the finalized state at `options.height` (default the last
   * finalized height): a frozen view, taken while writes go on. An I/O error fails this
   * snapshot only; the store goes on.
   * @throws INVALID_ARGUMENT, NOT_FOUND (nothing finalized, or `height` not finalized),
   *   CONFLICT (no quorum of precommits stored for that height), CLOSED, IO_FAILED, DISK_FULL.
   */
  createSnapshot(options?: CreateSnapshotOptions): Promise<SnapshotMetadata>;
  /** The metadata of snapshot `id`, or undefined. @throws INVALID_ARGUMENT, CORRUPTION (its header or first chunk is damaged), CLOSED. */
  getSnapshotMetadata(id: string): Promise<SnapshotMetadata | undefined>;
  /**
   * Reads snapshot `id` whole, checks every chunk and the content, and returns it.
   * @throws INVALID_ARGUMENT, NOT_FOUND, CORRUPTION naming the chunk, CLOSED.
   */
  loadFromSnapshot(id: string): Promise<ConsensusSnapshot>;
  /** Every snapshot, by height then id. Damaged files are left out (`verifySnapshotIntegrity` names them). @throws CLOSED. */
  listSnapshots(): Promise<SnapshotMetadata[]>;
  /** The snapshot of the greatest height (the newest of that height), or undefined. @throws CLOSED. */
  getLatestSnapshot(): Promise<SnapshotMetadata | undefined>;
  /** Removes every snapshot but the `keepCount` newest; resolves with the number removed. @throws INVALID_ARGUMENT, CLOSED, IO_FAILED. */
  pruneSnapshots(keepCount: number): Promise<number>;
  /**
   * True when snapshot `id` is whole: every byte checked (header, leaf table, chunks, content,
   * trailer) and every attestation verifies against the snapshot's own validator set.
   * @throws INVALID_ARGUMENT, NOT_FOUND, CLOSED.
   */
  verifySnapshotIntegrity(id: string): Promise<boolean>;
  /**
   * Adds another validator's attestation of snapshot `id` (checked against the key the
   * snapshot's set gives it) and resolves with the metadata. A repeat is a no-op.
   * @throws INVALID_ARGUMENT (bad input, unknown validator, a signature that does not verify), NOT_FOUND, CLOSED, IO_FAILED.
   */
  addAttestation(id: string, attestation: SnapshotAttestation): Promise<SnapshotMetadata>;
}
