/**
 * The engine's view of the network: fire-and-forget byte messages to everyone or to one
 * validator, and one handler for what arrives. Delivery is best effort (messages may be lost,
 * delayed or duplicated); the engine re-sends what matters on its gossip tick.
 */

/** A node's connection to the other validators. */
export interface Transport {
  /** Sends to every other validator. */
  broadcast(message: Uint8Array): void;
  /** Sends to one validator (dropped if it is unknown or down). */
  send(to: string, message: Uint8Array): void;
  /**
   * Sets the handler of arriving messages (replaces any earlier one; undefined detaches). `from`
   * is the peer that delivered the bytes to this node (the direct sender, or the relay's
   * account of who handed them to it), never a name read from the message itself: it is whom
   * a rejected message is recorded against (docs/audit.md, "Peer events").
   */
  setHandler(handler: ((message: Uint8Array, from: string) => void) | undefined): void;
}
