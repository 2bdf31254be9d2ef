/**
 * A simulated network for running several engines in one process: seeded random delays, an
 * optional loss rate, and nodes that can be cut off (a crash) and reconnected. Tests and the
 * in-process benchmark use it; the devnet uses real processes instead.
 *
 * It must never deliver to a node that is disconnected, never read `Math.random` (the seed
 * decides every delay and loss), and always name the sending node as the message's `from`.
 */
import { Prng } from '../io/prng.ts';
import type { Transport } from './transport.ts';

/** Options of `SimNetwork`. */
export interface SimNetworkOptions {
  /** Seed of delays and losses. */
  readonly seed: number;
  /** Smallest and largest one-way delay in ms (uniform). Default 0..3. */
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Probability that a message is lost, 0..1. Default 0. */
  readonly lossRate?: number;
}

/** An in-process network of named nodes. */
export class SimNetwork {
  readonly #prng: Prng;
  readonly #minDelay: number;
  readonly #maxDelay: number;
  readonly #loss: number;
  readonly #handlers = new Map<string, ((m: Uint8Array, from: string) => void) | undefined>();
  readonly #down = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Messages delivered so far. */
  delivered = 0;

  constructor(options: SimNetworkOptions) {
    this.#prng = new Prng(options.seed);
    this.#minDelay = options.minDelayMs ?? 0;
    this.#maxDelay = options.maxDelayMs ?? 3;
    this.#loss = options.lossRate ?? 0;
  }

  /** The transport of node `id` (joining the network). */
  join(id: string): Transport {
    this.#handlers.set(id, undefined);
    return {
      broadcast: (message) => {
        for (const to of this.#handlers.keys()) if (to !== id) this.#deliver(id, to, message);
      },
      send: (to, message) => this.#deliver(id, to, message),
      setHandler: (handler) => {
        this.#handlers.set(id, handler);
      },
    };
  }

  /** Cuts `id` off: nothing is delivered to or from it until `reconnect`. */
  disconnect(id: string): void {
    this.#down.add(id);
  }

  /** Reconnects `id`. */
  reconnect(id: string): void {
    this.#down.delete(id);
  }

  /** Cancels every message in flight. */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #deliver(from: string, to: string, message: Uint8Array): void {
    if (this.#down.has(from) || this.#down.has(to) || !this.#handlers.has(to)) return;
    if (this.#loss > 0 && this.#prng.bool(this.#loss)) return;
    const delay = this.#prng.int(this.#minDelay, this.#maxDelay);
    const copy = message.slice();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#down.has(to)) return;
      const handler = this.#handlers.get(to);
      if (handler === undefined) return;
      this.delivered++;
      handler(copy, from);
    }, delay);
    this.#timers.add(timer);
  }
}
