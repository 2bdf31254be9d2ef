/**
 * Input checks the audit log's methods share on every backend (the WAL's and PostgreSQL's):
 * a point in time, an event type, a companion record of `appendWithEvents`.
 *
 * Each throws INVALID_ARGUMENT naming the argument and returns the checked value (a copy of a
 * companion's payload, which the caller may change once the call returned).
 */
import { invalidArgument } from '../errors.ts';
import type { RecordInput } from '../log/types.ts';
import { checkInteger, checkObject, checkSafeUint } from '../model/check.ts';
import { AUDIT_EVENT_TYPES, checkAuditEvent, type AuditEvent, type AuditEventType } from '../model/audit.ts';

/** A time in ms since the epoch: a safe non-negative integer, or a valid Date not before 1970. */
export function checkTime(name: string, value: unknown): number {
  if (value instanceof Date) {
    const t = value.getTime();
    if (!Number.isSafeInteger(t) || t < 0) throw invalidArgument(name, 'must be a valid Date not before 1970');
    return t;
  }
  return checkSafeUint(name, value);
}

/** One of the audit event types. */
export function checkEventType(name: string, value: unknown): AuditEventType {
  if (typeof value !== 'string' || !(AUDIT_EVENT_TYPES as readonly string[]).includes(value)) throw invalidArgument(name, 'must be an audit event type');
  return value as AuditEventType;
}

/** A record written with audit entries: a store's kind (1..199, never an audit kind 50..59) and a payload (copied). */
export function checkCompanion(name: string, value: unknown): RecordInput {
  const c = checkObject(name, value);
  const kind = checkInteger(`${name}.kind`, c['kind'], 1, 199);
  if (kind >= 50 && kind <= 59) throw invalidArgument(`${name}.kind`, 'must not be an audit record kind');
  if (!(c['payload'] instanceof Uint8Array)) throw invalidArgument(`${name}.payload`, 'must be a Uint8Array');
  return { kind, payload: (c['payload'] as Uint8Array).slice() };
}

/** The event types `appendWithEvents` takes: all but NodeKeyRecorded (the log writes that itself). */
const COMPANION_EVENT_TYPES: readonly AuditEventType[] = AUDIT_EVENT_TYPES.filter((t) => t !== 'NodeKeyRecorded');

/**
 * The arguments of `appendWithEvents`: 1..`maxEventsPerCall` events and as many companions as
 * one batch has room for beside them and the head; every event and companion checked.
 */
export function checkEventsWithCompanions(
  events: unknown,
  companions: unknown,
  limits: { readonly maxEventsPerCall: number; readonly maxBatchRecords: number },
): { events: AuditEvent[]; companions: RecordInput[] } {
  if (!Array.isArray(events) || events.length === 0 || events.length > limits.maxEventsPerCall) {
    throw invalidArgument('events', `must be an array of 1..${limits.maxEventsPerCall} events`);
  }
  const room = limits.maxBatchRecords - events.length - 1;
  if (!Array.isArray(companions) || companions.length > room) throw invalidArgument('companions', `must be an array of at most ${room} records`);
  return {
    events: events.map((e: unknown, i) => checkAuditEvent(`events[${i}]`, e, COMPANION_EVENT_TYPES)),
    companions: companions.map((c: unknown, i) => checkCompanion(`companions[${i}]`, c)),
  };
}
