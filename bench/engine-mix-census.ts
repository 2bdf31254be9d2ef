/**
 * What the reference engine really writes per block: runs `validators` engines
 * (src/consensus/engine.ts) on the simulated network (zero delay), each on its own store
 * through `openStore`, with the accountability sinks a devnet node wires
 * (`sinksFromStores`), for `seconds`; then reads node v0's and v1's logs back and prints, per
 * record kind (audit entries per event type, votes per type), the count, the payload bytes and
 * the count per finalized block, and how many distinct votes the VoteReceived entries name.
 * The storage scenario's engine mix (bench/lib/engine-mix.ts) is built from the engine's code;
 * this is how to check it against a run.
 *
 *   npx tsx bench/engine-mix-census.ts [validators=7] [seconds=10]
 *
 * The round timeouts are long (60 s): all validators share this process, and a busy machine
 * would otherwise time rounds out and count nil votes no healthy chain writes.
 *
 * Must never: be imported by the library or the tests, or leave a store or a temp directory
 * behind.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeEntryBody, splitEntryPayload } from '../src/codec/audit-record.ts';
import { RecordKind } from '../src/codec/kinds.ts';
import { decodeVoteRecord } from '../src/codec/vote-record.ts';
import { publicKeyOf } from '../src/codec/vote-sign.ts';
import { sinksFromStores } from '../src/consensus/accountability-sinks.ts';
import { ConsensusEngine } from '../src/consensus/engine.ts';
import { SimNetwork } from '../src/consensus/sim-network.ts';
import { StoreStoragePort } from '../src/consensus/store-adapter.ts';
import { ValidatorSet } from '../src/consensus/validator-set.ts';
import { openStore, writableLogOf, type ConsensusStore } from '../src/store.ts';

const CHAIN_ID = 'bench-census';
const LONG = 60_000;

function positiveInt(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`${name} must be an integer 1..1000, got ${raw}`);
  return n;
}

const validators = positiveInt(process.argv[2], 7, 'validators');
const seconds = positiveInt(process.argv[3], 10, 'seconds');
const dir = mkdtempSync(join(tmpdir(), 'cstore-census-'));
const keys = Array.from({ length: validators }, (_, i) => sha256(new TextEncoder().encode(`census-key-${i}`)));
const set = new ValidatorSet(keys.map((k, i) => ({ validatorId: `v${i}`, publicKey: publicKeyOf(k), stake: 100n })), CHAIN_ID);
const network = new SimNetwork({ seed: 1, minDelayMs: 0, maxDelayMs: 0 });
const stores: ConsensusStore[] = [];
const engines: ConsensusEngine[] = [];
const kindNames = new Map<number, string>(Object.entries(RecordKind).map(([name, kind]) => [kind, name]));

try {
  for (let i = 0; i < validators; i++) {
    const store = await openStore({ dir: join(dir, `v${i}`), chainId: CHAIN_ID, signer: { validatorId: `v${i}`, privateKey: keys[i] as Uint8Array, state: 'new-key' }, log: { durability: 'none' } });
    stores.push(store);
    for (const v of set.validators) await store.validators.registerValidator({ validatorId: v.validatorId, publicKey: v.publicKey, stake: v.stake }, 0);
    const engine = new ConsensusEngine({
      chainId: CHAIN_ID,
      validatorId: `v${i}`,
      storage: new StoreStoragePort(store, CHAIN_ID, sinksFromStores(store, `v${i}`)),
      transport: network.join(`v${i}`),
      timeouts: { proposeMs: LONG, prevoteMs: LONG, precommitMs: LONG, maxMs: 2 * LONG },
    });
    await engine.initializeWithRecovery();
    engines.push(engine);
  }
  for (const e of engines) e.start();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await Promise.all(engines.map((e) => e.stop()));
  const finalized = (engines[0] as ConsensusEngine).status.finalizedHeight;
  process.stdout.write(`${validators} validators, ${seconds} s: ${finalized} heights finalized\n`);
  for (const which of [0, 1].filter((i) => i < validators)) {
    const counts = new Map<string, { n: number; bytes: number }>();
    const received = new Set<string>();
    await writableLogOf(stores[which] as ConsensusStore).scan((r) => {
      let name = kindNames.get(r.kind) ?? `kind ${r.kind}`;
      if (r.kind === RecordKind.AuditEvent) {
        const event = decodeEntryBody(splitEntryPayload(r.payload).body).event;
        name += `:${event.type}`;
        if (event.type === 'VoteReceived') received.add(`${event.vote.validatorId}:${event.vote.height}:${event.vote.round}:${event.vote.voteType}`);
      } else if (r.kind === RecordKind.Vote) {
        const v = decodeVoteRecord(r).vote;
        name += `:${v.voteType}${v.blockHash === null ? ' (nil)' : ''}`;
      }
      const c = counts.get(name) ?? { n: 0, bytes: 0 };
      c.n++;
      c.bytes += r.payload.length;
      counts.set(name, c);
    });
    process.stdout.write(`node v${which}: record kind, count, payload bytes, per finalized height\n`);
    for (const [name, c] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) {
      process.stdout.write(`  ${name.padEnd(36)} ${String(c.n).padStart(8)} ${String(c.bytes).padStart(10)} ${(c.n / Math.max(1, finalized)).toFixed(2).padStart(8)}\n`);
    }
    process.stdout.write(`  distinct votes named by VoteReceived entries: ${received.size} (${(received.size / Math.max(1, finalized)).toFixed(2)} per height)\n`);
  }
} finally {
  network.close();
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
}
