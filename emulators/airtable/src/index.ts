/**
 * An Airtable Web API emulator: records, the meta API, auth, limits, errors, latency and faults,
 * driven by the official `airtable` client or plain HTTP. See README.md beside this file.
 */
export {
  startAirtableEmulator,
  URL_LENGTH_LIMIT,
  type AirtableEmulator,
  type AirtableEmulatorOptions,
} from './server';
export { DEMO_BASE_ID, buildDemoSeed, type DemoSeedOptions } from './demo';
export { DEFAULT_LIMITS } from './limits';
export { busiestSecond, tightestSpan } from './log-analysis';
export { SUPPORTED_FUNCTIONS } from './formula/evaluate';
export type {
  EmulatorFaultRule,
  EmulatorFaults,
  EmulatorOperation,
  EmulatorLatency,
  EmulatorLimits,
  EmulatorRecord,
  EmulatorRequestLogEntry,
  EmulatorSeed,
  EmulatorSeedBase,
  EmulatorSeedComment,
  EmulatorSeedField,
  EmulatorSeedRecord,
  EmulatorSeedTable,
  EmulatorSeedView,
  EmulatorTokenGrant,
} from './types';
