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
  /** Sets the handler of arriving messages (replaces any earlier one; undefined detaches). */
  setHandler(handler: ((message: Uint8Array) => void) | undefined): void;
}
