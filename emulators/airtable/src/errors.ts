/**
 * Every non-2xx answer of the emulator, with Airtable's status and body shape. Handlers throw it;
 * the server turns it into the response, so no path can leak a stack or an HTML page.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(typeof body === 'object' && body !== null ? JSON.stringify(body) : String(body));
  }
}

/** The `{"error":{"type","message"}}` body of most Airtable errors. */
export function typedError(status: number, type: string, message?: string): ApiError {
  return new ApiError(status, { error: message === undefined ? { type } : { type, message } });
}

export const PERMISSION_MESSAGE =
  'Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.';

export const RATE_LIMIT_MESSAGE = 'Rate limit exceeded. Please try again later';

export const PARAMETER_VALIDATION_MESSAGE =
  'Invalid request: parameter validation failed. Check your request data.';

export const errors = {
  authenticationRequired: () => typedError(401, 'AUTHENTICATION_REQUIRED', 'Authentication required'),
  permissionOrModelNotFound: () =>
    typedError(403, 'INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND', PERMISSION_MESSAGE),
  /** Record endpoints answer a bare string (seen in clients). */
  recordNotFound: () => new ApiError(404, { error: 'NOT_FOUND' }),
  /**
   * A comment id that is not a comment of the record in the URL. Airtable does not document this
   * body; the emulator answers it like the record endpoints the comment routes hang off.
   */
  commentNotFound: () => new ApiError(404, { error: 'NOT_FOUND' }),
  /** Editing or deleting another user's comment (Airtable: only its author may). */
  notCommentAuthor: (verb: 'update' | 'delete') =>
    typedError(403, 'INVALID_PERMISSIONS', `You are not permitted to ${verb} a comment made by another user`),
  /**
   * The first field of a new table is not a type a primary field may have. The type string is not
   * documented by Airtable; the status is.
   */
  invalidPrimaryField: (name: string, type: string) =>
    typedError(
      422,
      'INVALID_FIELD_TYPE_FOR_PRIMARY_FIELD',
      `Field "${name}" cannot be the primary field of a table: type ${type} is not supported as a primary field`,
    ),
  /** The meta API, and routes that do not exist under it, answer the object form. */
  metaNotFound: () => new ApiError(404, { error: { type: 'NOT_FOUND' } }),
  /**
   * The 429 body as clients have logged it from the live API; Airtable does not document the type,
   * so callers must key on the status.
   */
  rateLimited: () =>
    new ApiError(429, { errors: [{ error: 'RATE_LIMIT_REACHED', message: RATE_LIMIT_MESSAGE }] }),
  requestTooLarge: () => typedError(413, 'REQUEST_TOO_LARGE', 'Request body is too large'),
  urlTooLong: (length: number) =>
    typedError(
      414,
      'URL_TOO_LONG',
      `The request URL is ${length} characters long; Airtable accepts URLs under 16000 characters. Use POST /v0/{baseId}/{tableIdOrName}/listRecords for long queries.`,
    ),
  serverError: () => typedError(500, 'SERVER_ERROR', 'Try again. If the problem persists, contact support.'),
  invalidRequest: (message = PARAMETER_VALIDATION_MESSAGE) =>
    typedError(422, 'INVALID_REQUEST_UNKNOWN', message),
  invalidBody: () => typedError(422, 'INVALID_REQUEST_BODY', 'Could not parse request body'),
  missingFields: () =>
    typedError(422, 'INVALID_REQUEST_MISSING_FIELDS', 'Could not find field "fields" in the request body'),
  invalidRecords: (message: string) => typedError(422, 'INVALID_RECORDS', message),
  tooManyRecords: (verb: 'created' | 'updated', count: number) =>
    typedError(
      422,
      'INVALID_RECORDS',
      `A maximum of 10 records can be ${verb} per request but you have provided ${count}.`,
    ),
  unknownFieldName: (name: string) => typedError(422, 'UNKNOWN_FIELD_NAME', `Unknown field name: "${name}"`),
  invalidValue: (message: string) => typedError(422, 'INVALID_VALUE_FOR_COLUMN', message),
  computedField: (fieldName: string) =>
    typedError(
      422,
      'INVALID_VALUE_FOR_COLUMN',
      `Field "${fieldName}" cannot accept a value because the field is computed`,
    ),
  cannotAccept: (fieldName: string) =>
    typedError(422, 'INVALID_VALUE_FOR_COLUMN', `Field "${fieldName}" cannot accept the provided value`),
  notRecordIds: () => typedError(422, 'INVALID_VALUE_FOR_COLUMN', 'Value is not an array of record IDs.'),
  newSelectOption: (choice: string) =>
    typedError(
      422,
      'INVALID_MULTIPLE_CHOICE_OPTIONS',
      `Insufficient permissions to create new select option ""${choice}""`,
    ),
  rowDoesNotExist: (recordId: string) =>
    typedError(422, 'ROW_DOES_NOT_EXIST', `Record ID ${recordId} does not exist in this table`),
  linkedRowDoesNotExist: (recordId: string, tableName: string) =>
    typedError(422, 'ROW_DOES_NOT_EXIST', `Record ID ${recordId} does not exist in table "${tableName}"`),
  invalidFormula: (detail: string) =>
    typedError(422, 'INVALID_FILTER_BY_FORMULA', `The formula for filtering records is invalid: ${detail}`),
  viewNotFound: (view: string) => typedError(422, 'VIEW_NAME_NOT_FOUND', `View ${view} not found`),
  invalidOffset: (offset: string) =>
    typedError(422, 'INVALID_OFFSET_VALUE', `The value of offset ${offset} is invalid`),
  iteratorGone: () =>
    typedError(
      422,
      'LIST_RECORDS_ITERATOR_NOT_AVAILABLE',
      'The list records iterator is no longer available. Start again without an offset.',
    ),
  upsertAmbiguous: (index: number, count: number, fields: string[]) =>
    typedError(
      422,
      'INVALID_RECORDS',
      `Cannot update record ${index} using fieldsToMergeOn ${JSON.stringify(fields)}: ${count} existing records match`,
    ),
} as const;
