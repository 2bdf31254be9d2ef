/**
 * Reward statements for tax reporting: the rewards of a period with exact totals per reason,
 * exported as CSV (RFC 4180: one line per reward, height, ISO 8601 UTC timestamp, validator,
 * reason, amount as an exact integer string) and as JSON (amounts as decimal strings), and the
 * parsers that read both back, so that an export can be checked against its source.
 *
 * It must never pass an amount through `number`, never emit a timestamp that is not UTC, and
 * never accept on parse a statement whose totals do not match its lines.
 */
import { invalidArgument } from '../errors.ts';
import { checkAmount, checkRewardTimestamp, REWARD_REASONS } from '../model/reward.ts';
import { checkValidatorId } from '../model/vote.ts';
import { checkObject, checkOneOf, checkSafeUint } from '../model/check.ts';
import type { RewardEntry, RewardReason, RewardTotals, StatementPeriod } from '../model/reward.ts';

/** The CSV header line (without its CRLF). */
export const REWARD_CSV_HEADER = 'height,timestamp,validator,reason,amount';
/** `format` field of a JSON statement. */
export const REWARD_STATEMENT_FORMAT = 'cstore-reward-statement';
/** `version` field of a JSON statement. */
export const REWARD_STATEMENT_VERSION = 1;

/** One reward in a JSON statement. */
export interface RewardEntryJSON {
  readonly height: number;
  /** ISO 8601 UTC with milliseconds, e.g. `2024-01-31T12:00:00.000Z`. */
  readonly timestamp: string;
  readonly validatorId: string;
  readonly reason: RewardReason;
  /** Exact decimal integer string. */
  readonly amount: string;
}

/** A statement as JSON (what `toJSON` returns and `JSON.stringify(statement)` writes). */
export interface RewardStatementJSON {
  readonly format: typeof REWARD_STATEMENT_FORMAT;
  readonly version: typeof REWARD_STATEMENT_VERSION;
  readonly validatorId: string | null;
  /** Heights inclusive; dates as ISO 8601 UTC, `fromDate` inclusive, `toDate` exclusive. */
  readonly period:
    | { readonly kind: 'all' }
    | { readonly kind: 'heights'; readonly fromHeight: number; readonly toHeight: number }
    | { readonly kind: 'dates'; readonly fromDate: string; readonly toDate: string };
  readonly generatedAt: string;
  readonly total: string;
  readonly byReason: Readonly<Record<RewardReason, string>>;
  readonly entries: readonly RewardEntryJSON[];
}

/** ISO 8601 UTC with milliseconds of a ms timestamp. */
export function isoTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}

/** Parses an ISO 8601 UTC timestamp that `isoTimestamp` wrote (exactly: anything else is refused). */
function parseIso(name: string, value: unknown): number {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 0 || isoTimestamp(ms) !== value) {
    throw invalidArgument(name, 'must be an ISO 8601 UTC timestamp as written by the export (YYYY-MM-DDTHH:mm:ss.sssZ)');
  }
  return checkRewardTimestamp(name, ms);
}

function parseDecimal(name: string, value: unknown): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,38})$/.test(value)) {
    throw invalidArgument(name, 'must be a canonical decimal integer string');
  }
  return checkAmount(name, BigInt(value));
}

/** A total: a canonical decimal of any size up to 78 digits (a sum of many amounts may pass 2^128). */
function parseTotal(name: string, value: unknown): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(value)) {
    throw invalidArgument(name, 'must be a canonical decimal integer string');
  }
  return BigInt(value);
}

function parseHeight(name: string, value: unknown): number {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(value)) throw invalidArgument(name, 'must be a decimal height');
  return checkSafeUint(name, Number(value));
}

/** Quotes a CSV field when it holds a comma, quote, CR or LF, or starts or ends with a space (RFC 4180). */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Zero totals for every reason. */
function zeroTotals(): Record<RewardReason, bigint> {
  return { BlockProposal: 0n, SuccessfulVote: 0n, ValidatorStaking: 0n, StorageProof: 0n };
}

/** Exact totals of `entries`: overall and per reason. */
export function totalsOf(entries: readonly RewardEntry[]): { total: bigint; byReason: RewardTotals } {
  const byReason = zeroTotals();
  let total = 0n;
  for (const e of entries) {
    byReason[e.reason] += e.amount;
    total += e.amount;
  }
  return { total, byReason };
}

/**
 * The rewards of one period (optionally of one validator) with their exact totals. Built by
 * `RewardHistory.exportRewards` or read back by `parseRewardStatementJSON`; immutable.
 */
export class RewardStatement {
  /** The validator the statement is about, or undefined for every validator. */
  readonly validatorId: string | undefined;
  readonly period: StatementPeriod;
  /** When the statement was made, ms since the epoch. */
  readonly generatedAt: number;
  /** The rewards, in (height, line) order. */
  readonly entries: readonly RewardEntry[];
  /** Exact sum of every entry. */
  readonly total: bigint;
  /** Exact sums per reason. */
  readonly byReason: RewardTotals;

  /** @param fields - the statement's subject, period, time and entries; totals are computed here. */
  constructor(fields: { validatorId: string | undefined; period: StatementPeriod; generatedAt: number; entries: readonly RewardEntry[] }) {
    this.validatorId = fields.validatorId;
    this.period = fields.period;
    this.generatedAt = fields.generatedAt;
    this.entries = Object.freeze([...fields.entries]);
    const { total, byReason } = totalsOf(this.entries);
    this.total = total;
    this.byReason = Object.freeze(byReason);
    Object.freeze(this);
  }

  /** The CSV lines, header first, each ending in CRLF (to stream a large statement). */
  *csvLines(): Generator<string, void, undefined> {
    yield `${REWARD_CSV_HEADER}\r\n`;
    for (const e of this.entries) {
      yield `${e.height},${isoTimestamp(e.timestamp)},${csvField(e.validatorId)},${e.reason},${e.amount.toString(10)}\r\n`;
    }
  }

  /** The whole statement as CSV (RFC 4180, CRLF line ends, header line first). */
  toCSV(): string {
    let out = '';
    for (const line of this.csvLines()) out += line;
    return out;
  }

  /** The statement as a JSON-safe object (amounts as decimal strings); `JSON.stringify(statement)` uses it. */
  toJSON(): RewardStatementJSON {
    const p = this.period;
    const period: RewardStatementJSON['period'] =
      p.kind === 'dates' ? { kind: 'dates', fromDate: isoTimestamp(p.fromDate), toDate: isoTimestamp(p.toDate) } : p;
    const byReason = Object.fromEntries(REWARD_REASONS.map((r) => [r, this.byReason[r].toString(10)])) as Record<RewardReason, string>;
    return {
      format: REWARD_STATEMENT_FORMAT,
      version: REWARD_STATEMENT_VERSION,
      validatorId: this.validatorId ?? null,
      period,
      generatedAt: isoTimestamp(this.generatedAt),
      total: this.total.toString(10),
      byReason,
      entries: this.entries.map((e) => ({
        height: e.height,
        timestamp: isoTimestamp(e.timestamp),
        validatorId: e.validatorId,
        reason: e.reason,
        amount: e.amount.toString(10),
      })),
    };
  }
}

/** Splits RFC 4180 CSV text into rows of fields (quoted fields may hold commas, quotes and line breaks). */
function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let fieldStart = true;
  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"' && fieldStart) {
      quoted = true;
      fieldStart = false;
      i++;
      continue;
    }
    if (c === ',' || c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      row.push(field);
      field = '';
      fieldStart = true;
      if (c !== ',') {
        rows.push(row);
        row = [];
      }
      i += c === '\r' ? 2 : 1;
      continue;
    }
    if (c === '"') throw invalidArgument('csv', `has a stray quote in row ${rows.length + 1}`);
    field += c;
    fieldStart = false;
    i++;
  }
  if (quoted) throw invalidArgument('csv', 'ends inside a quoted field');
  if (!fieldStart || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/**
 * Reads back the entries of a CSV statement (`RewardStatement.toCSV`).
 * @throws ConsensusStoreError INVALID_ARGUMENT naming the first bad row or field.
 */
export function parseRewardCSV(text: string): RewardEntry[] {
  if (typeof text !== 'string') throw invalidArgument('csv', 'must be a string');
  const rows = csvRows(text);
  const header = rows.shift();
  if (header?.join(',') !== REWARD_CSV_HEADER) throw invalidArgument('csv', `must start with the header ${REWARD_CSV_HEADER}`);
  return rows.map((row, i) => {
    const at = `csv row ${i + 2}`;
    if (row.length !== 5) throw invalidArgument(at, `must have 5 fields, has ${row.length}`);
    const [height, timestamp, validatorId, reason, amount] = row as [string, string, string, string, string];
    return {
      height: parseHeight(`${at} height`, height),
      timestamp: parseIso(`${at} timestamp`, timestamp),
      validatorId: checkValidatorId(`${at} validator`, validatorId),
      reason: checkOneOf(`${at} reason`, reason, REWARD_REASONS),
      amount: parseDecimal(`${at} amount`, amount),
    };
  });
}

function parsePeriod(value: unknown): StatementPeriod {
  const p = checkObject('json.period', value);
  const kind = checkOneOf('json.period.kind', p['kind'], ['all', 'heights', 'dates'] as const);
  if (kind === 'all') return { kind };
  if (kind === 'heights') {
    return { kind, fromHeight: checkSafeUint('json.period.fromHeight', p['fromHeight']), toHeight: checkSafeUint('json.period.toHeight', p['toHeight']) };
  }
  return { kind, fromDate: parseIso('json.period.fromDate', p['fromDate']), toDate: parseIso('json.period.toDate', p['toDate']) };
}

/**
 * Reads back a JSON statement (`JSON.stringify(statement)` text, or the parsed object), and
 * checks that its totals equal the sums of its entries.
 * @throws ConsensusStoreError INVALID_ARGUMENT on a malformed statement or totals that do not add up.
 */
export function parseRewardStatementJSON(json: string | unknown): RewardStatement {
  let value: unknown = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch {
      throw invalidArgument('json', 'is not valid JSON');
    }
  }
  const o = checkObject('json', value);
  if (o['format'] !== REWARD_STATEMENT_FORMAT || o['version'] !== REWARD_STATEMENT_VERSION) {
    throw invalidArgument('json', `is not a ${REWARD_STATEMENT_FORMAT} version ${REWARD_STATEMENT_VERSION}`);
  }
  const rawEntries = o['entries'];
  if (!Array.isArray(rawEntries)) throw invalidArgument('json.entries', 'must be an array');
  const entries = rawEntries.map((raw: unknown, i): RewardEntry => {
    const e = checkObject(`json.entries[${i}]`, raw);
    return {
      height: checkSafeUint(`json.entries[${i}].height`, e['height']),
      timestamp: parseIso(`json.entries[${i}].timestamp`, e['timestamp']),
      validatorId: checkValidatorId(`json.entries[${i}].validatorId`, e['validatorId']),
      reason: checkOneOf(`json.entries[${i}].reason`, e['reason'], REWARD_REASONS),
      amount: parseDecimal(`json.entries[${i}].amount`, e['amount']),
    };
  });
  const validatorId = o['validatorId'] === null ? undefined : checkValidatorId('json.validatorId', o['validatorId']);
  const statement = new RewardStatement({ validatorId, period: parsePeriod(o['period']), generatedAt: parseIso('json.generatedAt', o['generatedAt']), entries });
  const byReason = checkObject('json.byReason', o['byReason']);
  if (parseTotal('json.total', o['total']) !== statement.total) throw invalidArgument('json.total', 'does not equal the sum of the entries');
  for (const r of REWARD_REASONS) {
    if (parseTotal(`json.byReason.${r}`, byReason[r]) !== statement.byReason[r]) {
      throw invalidArgument(`json.byReason.${r}`, 'does not equal the sum of its entries');
    }
  }
  return statement;
}
