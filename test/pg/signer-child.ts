/**
 * One racing signer process of test/pg/racing-signers.test.ts: opens the store on the schema it
 * is given, with the shared key, and asks the sign guard for a prevote at every height
 * `from..to` (round = height), for a block of its own (`blockByte`), so that the processes
 * conflict at every step. Every signature the guard releases is printed, one line each:
 * `SIG <height> <round> <step> <blockHex> <signatureHex>`, before the next request. Refusals
 * (CONFLICT) and database errors (IO_FAILED) are counted and the loop goes on.
 *
 * Run: node --import tsx test/pg/signer-child.ts <url> <schema> <blockByte> <from> <to>
 */
import { toHex } from '../../src/codec/bytes.ts';
import { isStoreError } from '../../src/errors.ts';
import { openPostgresStore } from '../../src/pg/open.ts';

const [url, schema, blockArg, fromArg, toArg] = process.argv.slice(2);
const blockByte = Number(blockArg);
const from = Number(fromArg);
const to = Number(toArg);
const store = await openPostgresStore({
  connectionString: url as string,
  schema: schema as string,
  chainId: 'racing-chain',
  audit: { nodeKey: { privateKey: new Uint8Array(32).fill(7) } },
  signer: { validatorId: 'me', privateKey: new Uint8Array(32).fill(42), allowFreshState: true },
  poolSize: 2,
});
const counts = { signed: 0, refused: 0, failed: 0 };
for (let height = from; height <= to; height++) {
  const blockHash = new Uint8Array(32).fill(blockByte);
  try {
    const v = await store.signGuard.signVote({ validatorId: 'me', height, round: height, voteType: 'prevote', blockHash, timestamp: 1_000 + height });
    process.stdout.write(`SIG ${v.height} ${v.round} ${v.voteType} ${toHex(v.blockHash as Uint8Array)} ${toHex(v.signature)}\n`);
    counts.signed++;
  } catch (err) {
    if (isStoreError(err, 'CONFLICT')) counts.refused++;
    else if (isStoreError(err, 'IO_FAILED')) counts.failed++;
    else throw err;
  }
}
process.stdout.write(`DONE ${JSON.stringify(counts)}\n`);
await store.close();
