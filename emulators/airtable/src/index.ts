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
export {
  ACTION_SOURCES,
  DEFAULT_MAX_RECORDS_PER_PAYLOAD,
  EXPIRED_WEBHOOK_RETENTION_MS,
  MAX_PAYLOADS_PER_PAGE,
  MAX_WEBHOOKS_PER_BASE,
  PAYLOAD_RETENTION_MS,
  WEBHOOK_LIFETIME_MS,
} from './webhooks';
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
  EmulatorUiActor,
  EmulatorUiEdit,
  EmulatorUiEditResult,
  EmulatorUiFieldChange,
  EmulatorWebhook,
  EmulatorWebhookOptions,
  WebhookActionSource,
  WebhookCellValues,
  WebhookChangePayload,
  WebhookChangeType,
  WebhookCreatedTable,
  WebhookDataType,
  WebhookErrorCode,
  WebhookErrorPayload,
  WebhookListing,
  WebhookNotificationResult,
  WebhookPayload,
  WebhookSpecification,
  WebhookTableChanges,
} from './types';
