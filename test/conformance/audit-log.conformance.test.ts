/**
 * Runs the AuditLog conformance suite on both backends the engine has: the in-memory log, and
 * the write-ahead log over the simulated disk (which also exercises export through a FileSystem).
 */
import { memoryAudit, walAudit } from '../support/audit-test-log.ts';
import { auditLogConformance } from '../../src/testing/conformance/audit-log.conformance.ts';

auditLogConformance('memory log', () => memoryAudit());
auditLogConformance('WAL on the simulated disk', () => walAudit());
