import { ApplicationFailure } from '@temporalio/common';
import { AirtableApiError, toAirtableFailure, withPenaltyLeft } from '../airtable/errors';

/**
 * An activity's one rule for failures: an Airtable error becomes a failure with the right retry
 * behaviour (see `toAirtableFailure`), named after what the activity was doing; a 429 met earlier in
 * the activity waits only what is left of its penalty; the platform's other failures and anything
 * unexpected (a Postgres hiccup) pass through unchanged and are retried.
 */
export function classify(err: unknown, doing: string): unknown {
  if (err instanceof AirtableApiError) return toAirtableFailure(err, doing);
  return err instanceof ApplicationFailure ? withPenaltyLeft(err) : err;
}
