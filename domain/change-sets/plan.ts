import {
  COMPUTED_TYPES,
  MERGEABLE_TYPES,
  NUMBER_TYPES,
  TEXT_TYPES,
  isEmptyCell,
} from '../../airtable/field-types';
import type { AirtableFieldSchema, AirtableTableSchema } from '../../airtable/meta';
import {
  CHANGE_SET_LIMITS,
  type ChangeSetAction,
  type ChangeSetIssue,
  type ChangeSetStepInput,
  type PlannedStep,
  type RecordReference,
} from './model';

// Pure: used by the API (validation before anything starts) and by tests. No I/O here.

const RECORD_ID = /^rec[A-Za-z0-9]{14}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Checks a change set against the base schema before anything is written: tables and fields exist,
 * no computed field is written, values fit their fields (unless `typecast`), merge fields are
 * valid, ids are well-formed, unique within a step and not deleted by an earlier step. Returns the
 * resolved plan, every issue found, and the record ids that must exist in Airtable (checked by the
 * caller, which can reach Airtable).
 */
export function planChangeSet(
  steps: ChangeSetStepInput[],
  schema: AirtableTableSchema[],
): { plan: PlannedStep[]; issues: ChangeSetIssue[]; references: RecordReference[]; recordCount: number } {
  const issues: ChangeSetIssue[] = [];
  const references: RecordReference[] = [];
  const plan: PlannedStep[] = [];
  const deletedBy = new Map<string, number>();
  const recordCount = steps.reduce((n, s) => n + s.records.length, 0);

  if (steps.length === 0)
    issues.push({ code: 'empty_change_set', step: 0, message: 'A change set needs at least one step' });
  if (steps.length > CHANGE_SET_LIMITS.maxSteps)
    issues.push({
      code: 'too_many_steps',
      step: CHANGE_SET_LIMITS.maxSteps,
      message: `A change set has at most ${CHANGE_SET_LIMITS.maxSteps} steps`,
    });
  if (recordCount > CHANGE_SET_LIMITS.maxRecords)
    issues.push({
      code: 'too_many_records',
      step: 0,
      message: `A change set has at most ${CHANGE_SET_LIMITS.maxRecords} records in all; this one has ${recordCount}`,
    });

  steps.forEach((step, stepIndex) => {
    const table = schema.find((t) => t.id === step.table) ?? schema.find((t) => t.name === step.table);
    if (!table) {
      issues.push({ code: 'unknown_table', step: stepIndex, message: `Unknown table "${step.table}"` });
      return;
    }
    if (step.records.length === 0)
      issues.push({ code: 'empty_step', step: stepIndex, message: 'A step needs at least one record' });
    const fieldByKey = (key: string) =>
      table.fields.find((f) => f.id === key) ?? table.fields.find((f) => f.name === key);
    const typecast = step.typecast ?? false;

    let mergeFields: string[] | undefined;
    if (step.action === 'upsert') {
      mergeFields = [];
      const requested = step.fieldsToMergeOn ?? [];
      if (requested.length < 1 || requested.length > CHANGE_SET_LIMITS.maxMergeFields)
        issues.push({
          code: 'invalid_merge_fields',
          step: stepIndex,
          message: `An upsert needs 1 to ${CHANGE_SET_LIMITS.maxMergeFields} fieldsToMergeOn`,
        });
      for (const key of requested) {
        const field = fieldByKey(key);
        if (!field)
          issues.push({
            code: 'unknown_merge_field',
            step: stepIndex,
            field: key,
            message: `Unknown merge field "${key}" in table ${table.name}`,
          });
        else if (!MERGEABLE_TYPES.has(field.type))
          issues.push({
            code: 'unmergeable_field',
            step: stepIndex,
            field: field.name,
            message: `Field "${field.name}" (${field.type}) cannot be a merge field: use text, long text, number, select or date fields`,
          });
        else mergeFields.push(field.name);
      }
    } else if (step.fieldsToMergeOn !== undefined) {
      issues.push({
        code: 'unexpected_merge_fields',
        step: stepIndex,
        message: 'fieldsToMergeOn belongs to upsert steps only',
      });
    }

    const seen = new Set<string>();
    const records = step.records.map((record, recordIndex) => {
      const where = { step: stepIndex, record: recordIndex };
      const needsId = step.action === 'update' || step.action === 'delete';
      if (needsId) {
        const id = record.id;
        if (typeof id !== 'string' || !RECORD_ID.test(id)) {
          issues.push({
            code: 'invalid_record_id',
            ...where,
            message: `${article(step.action)} needs the record's id (rec + 14 characters)`,
          });
        } else if (seen.has(id)) {
          issues.push({
            code: 'duplicate_record',
            ...where,
            recordId: id,
            message: `Record ${id} appears twice in this step`,
          });
        } else if (deletedBy.has(id)) {
          issues.push({
            code: 'record_deleted_earlier',
            ...where,
            recordId: id,
            message: `Record ${id} is deleted by step ${deletedBy.get(id)}`,
          });
        } else {
          seen.add(id);
          references.push({ tableId: table.id, recordId: id, ...where });
        }
      } else if (record.id !== undefined) {
        issues.push({
          code: 'unexpected_record_id',
          ...where,
          recordId: record.id,
          message: `${article(step.action)} takes no record id`,
        });
      }
      if (step.action === 'delete') {
        if (record.fields !== undefined)
          issues.push({ code: 'unexpected_fields', ...where, message: 'A delete takes only the record id' });
        return { id: record.id };
      }
      if (step.action === 'update' && (!record.fields || Object.keys(record.fields).length === 0))
        issues.push({
          code: 'empty_update',
          ...where,
          recordId: record.id,
          message: 'An update needs at least one field',
        });

      const fields: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(record.fields ?? {})) {
        const field = fieldByKey(key);
        const at = { ...where, ...(record.id ? { recordId: record.id } : {}), field: key };
        if (!field) {
          issues.push({
            code: 'unknown_field',
            ...at,
            message: `Unknown field "${key}" in table ${table.name}`,
          });
          continue;
        }
        if (field.name in fields) {
          issues.push({
            code: 'duplicate_field',
            ...at,
            message: `Field "${field.name}" is given twice (by name and by id)`,
          });
          continue;
        }
        if (COMPUTED_TYPES.has(field.type)) {
          issues.push({
            code: 'computed_field',
            ...at,
            message: `Field "${field.name}" is computed (${field.type}) and cannot be written`,
          });
          continue;
        }
        const problem = typecast ? undefined : valueProblem(field, value);
        if (problem)
          issues.push({
            code: 'invalid_value',
            ...at,
            message: `Field "${field.name}" (${field.type}): ${problem}`,
          });
        for (const linked of linkedIds(field, value))
          if (deletedBy.has(linked))
            issues.push({
              code: 'link_deleted_earlier',
              ...at,
              message: `Linked record ${linked} is deleted by step ${deletedBy.get(linked)}`,
            });
          else
            references.push({
              tableId: String(field.options?.linkedTableId),
              recordId: linked,
              ...where,
              field: field.name,
            });
        fields[field.name] = value;
      }
      for (const merge of mergeFields ?? [])
        if (isEmptyCell(fields[merge]))
          issues.push({
            code: 'missing_merge_value',
            ...where,
            field: merge,
            message: `An upsert record needs a value for merge field "${merge}"`,
          });
      return step.action === 'update' ? { id: record.id, fields } : { fields };
    });
    if (step.action === 'delete') for (const id of seen) deletedBy.set(id, stepIndex);

    plan.push({
      table: table.name,
      tableId: table.id,
      action: step.action,
      typecast,
      ...(mergeFields ? { fieldsToMergeOn: mergeFields } : {}),
      records,
    });
  });
  return { plan, issues, references, recordCount };
}

/** Why `value` does not fit `field` without typecast, or undefined when it does (null clears any cell). */
export function valueProblem(field: AirtableFieldSchema, value: unknown): string | undefined {
  if (value === null) return undefined;
  const type = field.type;
  if (TEXT_TYPES.has(type)) return typeof value === 'string' ? undefined : 'expects a string';
  if (NUMBER_TYPES.has(type) && type !== 'rating')
    return typeof value === 'number' && Number.isFinite(value) ? undefined : 'expects a number';
  switch (type) {
    case 'rating': {
      const max = typeof field.options?.max === 'number' ? field.options.max : 5;
      return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= max
        ? undefined
        : `expects a whole number from 0 to ${max}`;
    }
    case 'checkbox':
      return typeof value === 'boolean' ? undefined : 'expects true or false';
    case 'singleSelect':
      if (typeof value !== 'string') return 'expects the name of an option';
      return value === '' || choiceNames(field).has(value)
        ? undefined
        : `"${value}" is not an option (send typecast: true to create it)`;
    case 'multipleSelects': {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
        return 'expects a list of option names';
      const missing = (value as string[]).filter((v) => v !== '' && !choiceNames(field).has(v));
      return missing.length === 0
        ? undefined
        : `${missing.map((m) => `"${m}"`).join(', ')} not an option (send typecast: true to create)`;
    }
    case 'date':
      return typeof value === 'string' &&
        (value === '' || (ISO_DATE.test(value) && !Number.isNaN(Date.parse(value))))
        ? undefined
        : 'expects a date as YYYY-MM-DD';
    case 'dateTime':
      return typeof value === 'string' && (value === '' || !Number.isNaN(Date.parse(value)))
        ? undefined
        : 'expects an ISO 8601 date and time';
    case 'multipleRecordLinks':
      return Array.isArray(value) && value.every((v) => typeof v === 'string' && RECORD_ID.test(v))
        ? undefined
        : 'expects a list of record ids';
    case 'multipleAttachments':
      return Array.isArray(value) &&
        value.every(
          (v) =>
            typeof v === 'object' &&
            v !== null &&
            (typeof (v as { url?: unknown }).url === 'string' ||
              typeof (v as { id?: unknown }).id === 'string'),
        )
        ? undefined
        : 'expects a list of {url, filename?} objects';
    case 'barcode':
      return typeof value === 'object' &&
        value !== null &&
        typeof (value as { text?: unknown }).text === 'string'
        ? undefined
        : 'expects {text, type?}';
    case 'singleCollaborator':
      return isCollaborator(value) ? undefined : 'expects {id} or {email}';
    case 'multipleCollaborators':
      return Array.isArray(value) && value.every(isCollaborator)
        ? undefined
        : 'expects a list of {id} or {email}';
    default:
      return undefined;
  }
}

/** Record ids a link cell names (only for well-formed link values). */
function linkedIds(field: AirtableFieldSchema, value: unknown): string[] {
  if (field.type !== 'multipleRecordLinks' || !Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === 'string' && RECORD_ID.test(v));
}

function choiceNames(field: AirtableFieldSchema): Set<string> {
  const choices = (field.options?.choices ?? []) as Array<{ name?: string }>;
  return new Set(choices.map((c) => c.name ?? ''));
}

function isCollaborator(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (typeof (value as { id?: unknown }).id === 'string' ||
      typeof (value as { email?: unknown }).email === 'string')
  );
}

/** "An update", "A delete". */
function article(action: ChangeSetAction): string {
  return `${/^[aeiou]/.test(action) ? 'An' : 'A'} ${action}`;
}
