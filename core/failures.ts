import { ApplicationFailure, type Duration } from '@temporalio/common';

// The platform's failure vocabulary, in one place: every failure type a workflow, the API or a test
// can meet, and the shape of its details. Callers decide by `type` (and read typed details), never
// by matching message text. Imported by workflows too: no Node built-ins, no I/O.

/** Every failure type the platform raises. */
export const FailureType = {
  /** Airtable answered 401: the token is invalid or revoked. */
  airtableAuthentication: 'AirtableAuthenticationFailed',
  /** Airtable answered 403: the token lacks a scope or access to the base. */
  airtablePermission: 'AirtablePermissionDenied',
  /** Airtable answered 404: the base, table or record does not exist. */
  airtableNotFound: 'AirtableNotFound',
  /** Airtable refused the request itself (413, 422, other 4xx). */
  airtableInvalidRequest: 'AirtableInvalidRequest',
  /** Airtable answered 429: retried no sooner than its 30 s penalty. */
  airtableRateLimited: 'AirtableRateLimited',
  /** Airtable answered 5xx, timed out or could not be reached: retried with backoff. */
  airtableUnavailable: 'AirtableUnavailable',
  /** The workspace row is gone or no longer in the state the step expects. */
  workspaceMissing: 'WorkspaceMissing',
  /** The workspace's sealed Airtable token is missing or no longer opens under the current key. */
  connectionMissing: 'AirtableConnectionMissing',
  /** Provisioning failed and undid its steps. */
  provisioningFailed: 'WorkspaceProvisioningFailed',
  /** The change set's journal does not exist. */
  changeSetMissing: 'ChangeSetMissing',
  /** Airtable refused a request of a change set: the workflow compensates. */
  changeSetStepFailed: 'ChangeSetStepFailed',
  /** Compensation could not undo everything a change set applied. */
  changeSetCompensationIncomplete: 'ChangeSetCompensationIncomplete',
  /** A record's earlier values were not journaled, so compensation cannot restore it. */
  beforeImageMissing: 'ChangeSetBeforeImageMissing',
  /** The language model failed in a way a retry may fix (429 after its retryDelay, 5xx, network). */
  modelUnavailable: 'ModelUnavailable',
  /** The API told the caller the job could not be started, so the job must never run. */
  jobAbandoned: 'JobAbandoned',
  /** A newer activity attempt has claimed the change set; this one must stop writing. */
  writerReplaced: 'ChangeSetWriterReplaced',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Details of every Airtable failure. */
export interface AirtableFailureDetails {
  /** HTTP status; 0 for network errors and timeouts. */
  status: number;
  /** Airtable's `error.type`, when it sent one. */
  airtableType: string | null;
  /** A 429's: when Airtable's 30 s penalty runs out (ISO 8601), counted from when its answer came. */
  penaltyEndsAt?: string;
}

/** Details of {@link FailureType.changeSetStepFailed}: where the refusal happened (0-based). */
export interface ChangeSetStepFailedDetails {
  step: number;
  chunk: number;
}

/** A request of a change set that compensation could not undo. */
export interface UndoneRequest {
  step: number;
  chunk: number;
  records: number;
  error: string;
}

/** Details of {@link FailureType.changeSetCompensationIncomplete}: the outcome, with what remains. */
export interface CompensationIncompleteDetails {
  status: 'failed';
  recordsApplied: number;
  recordsTotal: number;
  undone: UndoneRequest[];
  [key: string]: unknown;
}

/** Details of {@link FailureType.provisioningFailed}. */
export interface ProvisioningFailedDetails {
  workspaceId: string;
  compensated: true;
}

/** The details each failure type carries (types not listed carry none). */
export interface FailureDetails {
  [FailureType.airtableAuthentication]: AirtableFailureDetails;
  [FailureType.airtablePermission]: AirtableFailureDetails;
  [FailureType.airtableNotFound]: AirtableFailureDetails;
  [FailureType.airtableInvalidRequest]: AirtableFailureDetails;
  [FailureType.airtableRateLimited]: AirtableFailureDetails;
  [FailureType.airtableUnavailable]: AirtableFailureDetails;
  [FailureType.changeSetStepFailed]: ChangeSetStepFailedDetails;
  [FailureType.changeSetCompensationIncomplete]: CompensationIncompleteDetails;
  [FailureType.provisioningFailed]: ProvisioningFailedDetails;
}

type DetailsOf<T extends FailureType> = T extends keyof FailureDetails ? FailureDetails[T] : undefined;

/** Options of {@link platformFailure}. */
export interface PlatformFailureOptions<T extends FailureType> {
  /** Whether Temporal may retry the activity. @default false */
  retryable?: boolean;
  details?: DetailsOf<T>;
  /** The earliest next attempt (Airtable's 429 penalty); overrides the retry policy's backoff. */
  nextRetryDelay?: Duration;
}

/** A failure of the platform's vocabulary, with its typed details. Non-retryable unless said otherwise. */
export function platformFailure<T extends FailureType>(
  type: T,
  message: string,
  options: PlatformFailureOptions<T> = {},
): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: !options.retryable,
    details: options.details === undefined ? undefined : [options.details],
    nextRetryDelay: options.nextRetryDelay,
  });
}

/** An error and its causes, outermost first (an activity failure wraps what the activity threw). */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = err; current; current = (current as { cause?: unknown }).cause) {
    chain.push(current);
    if (typeof current !== 'object') break;
  }
  return chain;
}

/** The first failure of `type` in the cause chain of `err`, if any. */
export function findFailure(err: unknown, type: FailureType): ApplicationFailure | undefined {
  return causeChain(err).find(
    (cause): cause is ApplicationFailure => cause instanceof ApplicationFailure && cause.type === type,
  );
}

/** The typed details of the first failure of `type` in the cause chain of `err`. */
export function failureDetails<T extends keyof FailureDetails>(
  err: unknown,
  type: T,
): FailureDetails[T] | undefined {
  const details = findFailure(err, type)?.details;
  return Array.isArray(details) ? (details[0] as FailureDetails[T] | undefined) : undefined;
}

/** The innermost message of a failure: what Airtable or the step said, not the wrappers around it. */
export function failureReason(err: unknown): string {
  const innermost = causeChain(err).at(-1);
  return innermost instanceof Error ? innermost.message : String(err);
}
