import { AirtableApiError, toAirtableFailure } from '../airtable/errors';

/**
 * An activity's one rule for failures: an Airtable error becomes a failure with the right retry
 * behaviour (see `toAirtableFailure`), named after what the activity was doing; the platform's own
 * failures and anything unexpected (a Postgres hiccup) pass through unchanged and are retried.
 */
export function classify(err: unknown, doing: string): unknown {
  return err instanceof AirtableApiError ? toAirtableFailure(err, doing) : err;
}
