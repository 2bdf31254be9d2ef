/**
 * Every conformance suite of `consensus-store/testing` on PostgreSQL (`openPostgresStore`), with
 * the harness shape of the WAL runs (test/conformance/): each fresh store is a fresh schema of
 * the test database, each reopen closes the store and opens the same schema again. Skipped with
 * a printed reason when no server answers (test/pg/support.ts), failed instead under CI.
 */
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { ConsensusStore } from '../../src/store.ts';
import { auditLogConformance, type AuditHarness } from '../../src/testing/conformance/audit-log.conformance.ts';
import { evidenceStoreConformance, type EvidenceHarness } from '../../src/testing/conformance/evidence-store.conformance.ts';
import { privateKeyFor, TEST_CHAIN_ID } from '../../src/testing/conformance/fixtures.ts';
import { recoveryConformance, recoveryVoteKey, type RecoveryHarness } from '../../src/testing/conformance/recovery.conformance.ts';
import { rewardHistoryConformance, type RewardHistoryHarness } from '../../src/testing/conformance/reward-history.conformance.ts';
import { roundStateStoreConformance, type RoundStateHarness } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { SIGN_IDENTITY, signGuardConformance, type SignGuardHarness, type SignOpenOptions } from '../../src/testing/conformance/sign-guard.conformance.ts';
import { validatorRegistryConformance, type ValidatorRegistryHarness } from '../../src/testing/conformance/validator-registry.conformance.ts';
import { voteStoreConformance, type VoteStoreFixture } from '../../src/testing/conformance/vote-store.conformance.ts';
import { storeHarness } from '../support/store-backends.ts';
import { testPublicKey } from '../support/round-test-log.ts';
import { describePg, pgMedium, type PgMedium, type PgOverrides } from './support.ts';

/** A fresh schema's store and the harness `view` makes of it. */
async function fresh<H extends { nextLsn(): number; reopen(): Promise<H>; close(): Promise<void> }>(
  chainId: string,
  label: string,
  view: (store: ConsensusStore) => Omit<H, 'nextLsn' | 'reopen' | 'close'>,
  overrides: PgOverrides = {},
): Promise<H> {
  const medium = pgMedium(chainId, label);
  const reopen = (): Promise<ConsensusStore> => medium.open(overrides);
  return storeHarness(await reopen(), reopen, view as never) as unknown as H;
}

describePg('PostgreSQL backend: conformance', () => {
  // The vote store suite's votes carry fake signatures (it tests storage semantics): unverified.
  voteStoreConformance('PostgreSQL', () => fresh<VoteStoreFixture>('conformance-chain', 'votes', (s) => ({ votes: s.votes }), { voteVerification: 'off' }));

  const signOptions = (o: SignOpenOptions): PgOverrides => {
    if (o.withIdentity === false) return {};
    return {
      signer: {
        ...SIGN_IDENTITY,
        ...(o.state === undefined ? {} : { state: o.state }),
        ...(o.allowFreshState === undefined ? {} : { allowFreshState: o.allowFreshState }),
        ...(o.importWatermark === undefined ? {} : { importWatermark: o.importWatermark }),
      },
    };
  };
  const signHarness = (medium: PgMedium, store: ConsensusStore): SignGuardHarness => {
    const reopenWith = async (options: SignOpenOptions): Promise<SignGuardHarness> => {
      await store.close();
      return signHarness(medium, await medium.open(signOptions(options)));
    };
    return { guard: store.signGuard, chainId: 'sign-guard-chain', nextLsn: () => store.log.nextLsn, reopen: () => reopenWith({}), reopenWith, close: () => store.close() };
  };
  signGuardConformance('PostgreSQL', async (options) => {
    const medium = pgMedium('sign-guard-chain', 'sign');
    return signHarness(medium, await medium.open(signOptions(options)));
  });

  roundStateStoreConformance('PostgreSQL', () => fresh<RoundStateHarness>('round-state-chain', 'rounds', (s) => ({ rounds: s.rounds })));

  recoveryConformance('PostgreSQL', () =>
    fresh<RecoveryHarness>('recovery-chain', 'recovery', (s) => ({ recovery: s.recovery, rounds: s.rounds, votes: s.votes, chainId: 'recovery-chain' }), { voteVerification: { publicKeyOf: recoveryVoteKey } }),
  );

  validatorRegistryConformance('PostgreSQL', () => fresh<ValidatorRegistryHarness>('registry-chain', 'registry', (s) => ({ registry: s.validators })), testPublicKey);

  auditLogConformance('PostgreSQL (entry 0 written at open)', async () => {
    const disk = new SimulatedDisk({ seed: 42 });
    return fresh<AuditHarness>('audit-test-chain', 'audit', (s) => ({ audit: s.audit, publicKey: s.audit.publicKey, fs: disk.fs() }), { fs: disk.fs() });
  });

  evidenceStoreConformance('PostgreSQL, keys from the registry', async () => {
    const medium = pgMedium(TEST_CHAIN_ID, 'evidence');
    const store = await medium.open();
    // The fixture's key book: val-1..4 from height 0, val-late from 100 (as the WAL run registers them).
    for (const id of ['val-1', 'val-2', 'val-3', 'val-4']) {
      await store.validators.registerValidator({ validatorId: id, publicKey: publicKeyOf(privateKeyFor(id)), stake: 100n }, 0);
    }
    await store.validators.registerValidator({ validatorId: 'val-late', publicKey: publicKeyOf(privateKeyFor('val-late')), stake: 100n }, 100);
    return storeHarness<EvidenceHarness>(store, () => medium.open(), (s) => ({ store: s.evidence, chainId: TEST_CHAIN_ID }));
  });

  rewardHistoryConformance('PostgreSQL', () => fresh<RewardHistoryHarness>('reward-chain', 'rewards', (s) => ({ history: s.rewards })));
});
