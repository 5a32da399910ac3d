import type { DataConverter } from '@temporalio/common';

/**
 * The data converter every Temporal client and worker of the platform uses. Payloads are plain
 * JSON today (inputs and results carry ids and counts, never secrets); a payload codec, for example
 * encryption at rest in Temporal, goes here and then applies to the API, the workers and the tests
 * alike, which must all agree to read each other's payloads.
 */
export const dataConverter: DataConverter = {};
