/**
 * Peer events (docs/audit.md, "Peer events"): what the intake (engine-intake.ts) rejects, as
 * `PeerMessageRejected` audit events naming the peer that relayed the bytes, and the bound that
 * keeps a flooding peer from filling the disk: at most `PEER_EVENTS_PER_HEIGHT` events per peer
 * per height of the node; past it the rejections are only counted, and the count is written as
 * one `Flood` event for that peer and height once the node's height moves on.
 *
 * A peer event is never evidence and never a slash: it proves nothing about the validator the
 * message names. It must never let the number of events written grow with the number of
 * messages a peer sends, nor with the heights a peer claims (the bucket is the node's own height).
 */
import { MAX_PEER_MESSAGE_COPY } from '../model/audit.ts';
import type { PeerMessageClaim, PeerMessageRejected, PeerRejectReason } from '../model/audit.ts';
import { isWellFormedString, MAX_VALIDATOR_ID_LENGTH } from '../model/vote.ts';

/** Events written per peer per height of the node before the rest are only counted. */
export const PEER_EVENTS_PER_HEIGHT = 16;
/** Peers counted per height; rejections from further peers at that height are dropped uncounted. */
export const MAX_TRACKED_PEERS = 1024;
/** The name recorded for a peer the transport named with something that is not a 1..128-character id. */
export const UNNAMED_PEER = 'unnamed-peer';
/** Largest count a `Flood` event holds (its u32). */
const MAX_SUPPRESSED = 0xffff_ffff;

/** The peer name to record: `from` when it is a valid id, else `UNNAMED_PEER`. */
export function peerName(from: unknown): string {
  return typeof from === 'string' && from.length > 0 && from.length <= MAX_VALIDATOR_ID_LENGTH && isWellFormedString(from) ? from : UNNAMED_PEER;
}

/** A `PeerMessageRejected` event for one message (`bytes` as received; a bounded copy is kept). */
export function peerEvent(peer: string, reason: Exclude<PeerRejectReason, 'Flood'>, atHeight: number, claimed: PeerMessageClaim | null, bytes: Uint8Array): PeerMessageRejected {
  const messageLength = Math.min(bytes.length, 0xffff_ffff);
  return { type: 'PeerMessageRejected', peer, reason, atHeight, claimed, messageLength, message: bytes.slice(0, Math.min(messageLength, MAX_PEER_MESSAGE_COPY)), suppressed: 0 };
}

/** The bound on peer events of one engine. */
export class PeerEventLimiter {
  readonly #perHeight: number;
  #height = -1;
  readonly #counts = new Map<string, { logged: number; suppressed: number }>();

  /** @param perHeight events written per peer per height (default `PEER_EVENTS_PER_HEIGHT`). */
  constructor(perHeight: number = PEER_EVENTS_PER_HEIGHT) {
    this.#perHeight = perHeight;
  }

  /**
   * The node is at `height`: when it moved on, the `Flood` events of the height it left (one per
   * peer that went over the bound), to be written; else nothing.
   */
  advance(height: number): PeerMessageRejected[] {
    if (height === this.#height) return [];
    const floods: PeerMessageRejected[] = [];
    for (const [peer, c] of this.#counts) {
      if (c.suppressed > 0) {
        floods.push({ type: 'PeerMessageRejected', peer, reason: 'Flood', atHeight: this.#height, claimed: null, messageLength: 0, message: new Uint8Array(0), suppressed: c.suppressed });
      }
    }
    this.#counts.clear();
    this.#height = height;
    return floods;
  }

  /** Whether `event` (at the current height) is to be written: true within the bound; else it is counted. */
  admit(event: PeerMessageRejected): boolean {
    let c = this.#counts.get(event.peer);
    if (c === undefined) {
      if (this.#counts.size >= MAX_TRACKED_PEERS) return false;
      c = { logged: 0, suppressed: 0 };
      this.#counts.set(event.peer, c);
    }
    if (c.logged < this.#perHeight) {
      c.logged++;
      return true;
    }
    c.suppressed = Math.min(c.suppressed + 1, MAX_SUPPRESSED);
    return false;
  }
}
