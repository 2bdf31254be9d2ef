/**
 * The sign guard across processes (issue 18; docs/postgres.md, "The sign guard"): 4 OS
 * processes share one key and one database and ask for a prevote at every height 1..1000, each
 * for a block of its own, so every step is contested; two of them are SIGKILLed mid-run and
 * started again (from height 1). Each prints every signature it released. No (height, round,
 * step) may have two different released signatures, and every released one verifies for the
 * block it names.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect, it } from 'vitest';
import { fromHex } from '../../src/codec/bytes.ts';
import { publicKeyOf, verifyVote } from '../../src/codec/vote-sign.ts';
import { openPostgresStore } from '../../src/pg/open.ts';
import { describePg, freshSchema, PG_URL } from './support.ts';

const STEPS = 1_000;
const PROCESSES = 4;

interface Run {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

function start(schema: string, blockByte: number): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/pg/signer-child.ts', PG_URL, schema, String(blockByte), '1', String(STEPS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let carry = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (carry + chunk.toString('utf8')).split('\n');
    carry = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describePg('PostgreSQL backend: racing signer processes', () => {
  it('4 processes, one key, 1,000 contested steps each, two SIGKILLed and restarted: never two signatures for one step', async () => {
    const schema = freshSchema('race');
    // Create the schema once, so the children do not all migrate at the same moment.
    await (await openPostgresStore({ connectionString: PG_URL, schema, chainId: 'racing-chain', audit: { nodeKey: { privateKey: new Uint8Array(32).fill(7) } } })).close();
    const runs: Run[] = [];
    for (let p = 1; p <= PROCESSES; p++) runs.push(start(schema, p));
    // Kill two of them mid-run (once they released something), then start them again.
    const killed: Run[] = [];
    for (const victim of [runs[0] as Run, runs[2] as Run]) {
      const deadline = Date.now() + 30_000;
      while (!victim.lines.some((l) => l.startsWith('SIG ')) && Date.now() < deadline) await sleep(50);
      await sleep(300);
      victim.child.kill('SIGKILL');
      expect(await victim.exited).toBeNull();
      killed.push(victim);
    }
    runs.push(start(schema, 1), start(schema, 3));
    const codes = await Promise.all(runs.filter((r) => !killed.includes(r)).map((r) => r.exited));
    expect(codes).toEqual([0, 0, 0, 0]);

    const publicKey = publicKeyOf(new Uint8Array(32).fill(42));
    const released = new Map<string, Set<string>>();
    let total = 0;
    for (const run of runs) {
      for (const line of run.lines) {
        if (!line.startsWith('SIG ')) continue;
        const [, height, round, step, block, signature] = line.split(' ');
        const key = `${height}/${round}/${step}`;
        const set = released.get(key) ?? new Set<string>();
        set.add(`${block} ${signature}`);
        released.set(key, set);
        total++;
        const vote = { validatorId: 'me', height: Number(height), round: Number(round), voteType: 'prevote' as const, blockHash: fromHex(block as string) as Uint8Array, timestamp: 1_000 + Number(height), signature: fromHex(signature as string) as Uint8Array };
        expect(verifyVote(vote, publicKey, 'racing-chain')).toBe(true);
      }
    }
    const doubles = [...released].filter(([, s]) => s.size > 1);
    console.log(`racing signers: ${total} signatures released over ${released.size} steps; ${doubles.length} steps with two different signatures`);
    expect(doubles).toEqual([]);
    // Every step was released by someone (the processes that ran to the end asked for all of
    // them), except at most one per kill: a signature committed by a process killed before it
    // printed it is never released, and once the watermark has moved past that step no process
    // may sign it again (that is the guard doing its job; seen once in a CI run, 999 of 1,000).
    expect(released.size).toBeGreaterThanOrEqual(STEPS - killed.length);
  }, 120_000);
});
