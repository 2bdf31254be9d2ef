/**
 * The PostgreSQL backend's atomicity and failure behaviour (issue 18; docs/postgres.md):
 * - a conflicting vote, its evidence and its audit entry commit in one transaction: when the
 *   transaction fails (a trigger refuses the audit insert), none of them is there;
 * - several pools (as several processes would) append to one audit chain at once: the chain
 *   stays linear and verifies, and its export verifies offline with the same verifier;
 * - connections killed with pg_terminate_backend in the middle of a signing run: signing fails
 *   closed (IO_FAILED, no signature), resumes after, and every acknowledged signature and vote
 *   is still there.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { verifyAuditExport } from '../../src/stores/audit-export.ts';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import { openPostgresStore } from '../../src/pg/open.ts';
import { admin, describePg, freshSchema, PG_NODE_KEY, PG_URL, pgMedium } from './support.ts';

const CHAIN = 'durability-chain';

function vote(validator: number, round: number, block: number): ValidatorVote {
  return signVote(
    { validatorId: `val-${validator}`, height: round, round, voteType: 'prevote', blockHash: new Uint8Array(32).fill(block), timestamp: 1_700_000_000_000 + round },
    new Uint8Array(32).fill(50 + validator),
    CHAIN,
  );
}

describePg('PostgreSQL backend: atomicity and failures', () => {
  it('an equivocating vote, its evidence and its audit entry: all in one transaction, none when it fails', async () => {
    const medium = pgMedium(CHAIN, 'atomic');
    let store = await medium.open();
    // val-1 is registered (one record), so that its really signed votes verify.
    await store.validators.registerValidator({ validatorId: 'val-1', publicKey: publicKeyOf(new Uint8Array(32).fill(51)), stake: 1n }, 0);
    await store.votes.appendVote(vote(1, 5, 1));
    const auditSize = store.audit.size;
    // Make the audit insert of the next transaction fail.
    await admin().query(`CREATE FUNCTION ${medium.schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
    await admin().query(`CREATE TRIGGER refuse BEFORE INSERT ON ${medium.schema}.audit_entries FOR EACH ROW EXECUTE FUNCTION ${medium.schema}.refuse()`);
    const err = await store.votes.appendVote(vote(1, 5, 2)).then(() => undefined, (e: unknown) => e);
    expect(isStoreError(err, 'IO_FAILED')).toBe(true);
    expect(await store.votes.countVotesForRound(5)).toBe(1);
    expect(await store.evidence.queryByValidator('val-1')).toEqual([]);
    const counts = await admin().query(`SELECT (SELECT count(*) FROM ${medium.schema}.votes) AS votes, (SELECT count(*) FROM ${medium.schema}.records) AS records, (SELECT count(*) FROM ${medium.schema}.audit_entries) AS entries`);
    expect(counts.rows[0]).toEqual({ votes: '1', records: '1', entries: String(auditSize) });
    await admin().query(`DROP TRIGGER refuse ON ${medium.schema}.audit_entries`);
    // The same vote again: now it goes through, with its evidence and its entry.
    const again = await store.votes.appendVote(vote(1, 5, 2));
    expect(again.outcome).toBe('equivocation');
    await store.close();
    store = await medium.open();
    expect(await store.votes.countVotesForRound(5)).toBe(2);
    expect((await store.evidence.queryByValidator('val-1')).map((e) => e.type)).toEqual(['Equivocation']);
    const entries = await store.audit.queryByValidator('val-1');
    expect(entries.map((e) => e.event.type)).toEqual(['EquivocationDetected']);
    expect(await store.audit.verifyIntegrity()).toMatchObject({ ok: true });
    await store.close();
  });

  it('three pools append to one audit chain at once: linear, verifying, and its export verifies offline', async () => {
    const schema = freshSchema('chain');
    const disk = new SimulatedDisk({ seed: 9 });
    const open = () => openPostgresStore({ connectionString: PG_URL, schema, chainId: CHAIN, audit: { nodeKey: PG_NODE_KEY }, fs: disk.fs(), poolSize: 3 });
    const stores = await Promise.all([open(), open(), open()]);
    await Promise.all(
      stores.flatMap((s, p) =>
        Array.from({ length: 40 }, (_, i) => s.audit.logEvent({ type: 'RoundStarted', height: i, round: i, proposer: `writer-${p}` })),
      ),
    );
    const reader = stores[0]!;
    const report = await reader.audit.verifyIntegrity();
    expect(report).toMatchObject({ ok: true, checked: 121 });
    const all = await reader.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER, { limit: 1000 });
    expect(all.map((e) => e.sequence).sort((a, b) => a - b)).toEqual(Array.from({ length: 121 }, (_, i) => i));
    expect(new Set(all.filter((e) => e.event.type === 'RoundStarted').map((e) => (e.event as { proposer: string }).proposer))).toEqual(new Set(['writer-0', 'writer-1', 'writer-2']));
    const out = await reader.audit.export('/chain.jsonl');
    expect(out.entries).toBe(121);
    expect(await verifyAuditExport({ fs: disk.fs(), path: '/chain.jsonl' }, reader.audit.publicKey)).toMatchObject({ ok: true, checked: 121 });
    // Each writer's own evidence bundle verifies against the chain's latest head.
    await Promise.all(stores.map((s) => s.close()));
  });

  it('connections terminated mid-run: signing fails closed, resumes after, nothing acknowledged is lost', async () => {
    const schema = freshSchema('kill');
    const app = `cstore_kill_${schema}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 3, application_name: app });
    const store = await openPostgresStore({
      pool,
      schema,
      chainId: CHAIN,
      audit: { nodeKey: PG_NODE_KEY },
      signer: { validatorId: 'me', privateKey: new Uint8Array(32).fill(42), state: 'new-key' },
    });
    const acknowledged = new Map<number, Uint8Array>();
    const votes: number[] = [];
    let failures = 0;
    let killed = 0;
    const kill = async (): Promise<void> => {
      const r = await admin().query('SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1', [app]);
      killed += Number(r.rows[0].n);
    };
    for (let height = 1; height <= 300; height++) {
      if (height % 60 === 0) await kill();
      const request = { validatorId: 'me', height, round: height, voteType: 'prevote' as const, blockHash: new Uint8Array(32).fill(height % 250), timestamp: height };
      try {
        const signed = await store.signGuard.signVote(request);
        acknowledged.set(height, signed.signature);
        const stored = await store.votes.appendVote(signed);
        votes.push(stored.id);
      } catch (err) {
        // Fail closed: an error, never a signature.
        expect(isStoreError(err, 'IO_FAILED')).toBe(true);
        failures++;
        // Once the pool reconnects, the same request is decided against the row: signed now,
        // or (when the lost commit did happen) the stored signature, never another one.
        const signed = await store.signGuard.signVote(request);
        acknowledged.set(height, signed.signature);
        votes.push((await store.votes.appendVote(signed)).id);
      }
    }
    console.log(`terminated ${killed} backends, ${failures} calls failed closed, ${acknowledged.size} signatures acknowledged`);
    expect(killed).toBeGreaterThan(0);
    expect(acknowledged.size).toBe(300);
    await store.close();
    // Nothing acknowledged is lost: reopen and ask for every signed step again.
    const again = await openPostgresStore({ connectionString: PG_URL, schema, chainId: CHAIN, audit: { nodeKey: PG_NODE_KEY }, signer: { validatorId: 'me', privateKey: new Uint8Array(32).fill(42) } });
    expect(again.signGuard.watermark()).toEqual({ height: 300, round: 300, step: 'prevote' });
    const rows = await admin().query(`SELECT height, signature FROM ${schema}.sign_log ORDER BY height`);
    expect(rows.rows.length).toBe(300);
    for (const r of rows.rows) expect(new Uint8Array(r.signature)).toEqual(acknowledged.get(Number(r.height)));
    const stored = await again.votes.getValidatorVotes('me', { limit: 1000 });
    expect(stored.map((e) => e.id)).toEqual(votes);
    await again.close();
    await pool.end();
  });
});
