import type { IdFactory } from './random';

/** A user as Airtable shows collaborators. Each token acts as one user. */
export interface Collaborator {
  id: string;
  email: string;
  name: string;
}

export interface FieldState {
  id: string;
  name: string;
  type: string;
  description?: string;
  options?: Record<string, unknown>;
}

export interface SelectChoice {
  id: string;
  name: string;
  color?: string;
}

export interface ViewState {
  id: string;
  name: string;
  type: string;
  filterByFormula?: string;
  sort?: Array<{ fieldId: string; direction: 'asc' | 'desc' }>;
}

/** A comment on a record. Mentions stay in `text` as `@[usr…]` and are resolved when rendered. */
export interface CommentState {
  id: string;
  author: Collaborator;
  text: string;
  /** Epoch ms. */
  createdTime: number;
  /** Epoch ms of the last edit, or null when never edited. */
  lastUpdatedTime: number | null;
  parentCommentId?: string;
}

/** Cells are stored by field id in their JSON form (selects by choice id); computed cells are not stored. */
export interface RecordState {
  id: string;
  tableId: string;
  createdTime: number;
  cells: Record<string, unknown>;
  /** Last change per field id, epoch ms. */
  modified: Record<string, number>;
  autoNumber: number;
  createdBy: Collaborator;
  lastModifiedBy?: Collaborator;
  /** Oldest first; `commentCount` is their number. */
  comments: CommentState[];
}

export interface TableState {
  id: string;
  name: string;
  description?: string;
  primaryFieldId: string;
  fields: FieldState[];
  views: ViewState[];
  /** Creation order, which is also the order of the default grid view. */
  records: RecordState[];
  nextAutoNumber: number;
}

export interface BaseState {
  id: string;
  name: string;
  tables: TableState[];
  /** Record ids are unique per base, so a record can be fetched through any table of its base. */
  records: Map<string, RecordState>;
}

/** A record-level change, journalled for webhooks while a transaction runs. */
export type StoreEvent =
  | { type: 'recordCreated'; table: TableState; record: RecordState }
  | { type: 'recordDestroyed'; table: TableState; record: RecordState }
  /** A stored cell changed; `before` is the stored value it had (undefined when empty). */
  | { type: 'cellChanged'; record: RecordState; fieldId: string; before: unknown };

/**
 * Who is writing, set by the server around a request (or a UI-like control call) so that the
 * changes a transaction commits can be reported to webhooks with their source.
 */
export interface WriteAction {
  baseId: string;
  /** Airtable's action source: `publicApi` for the Web API, `client` for UI-like edits, … */
  source: string;
  /** `actionMetadata.sourceMetadata`, as the payloads show it. */
  sourceMetadata: Record<string, unknown>;
  /** Epoch ms of the emulator's clock when the action ran. */
  at: number;
}

/**
 * One request's changes, undone in reverse order when any part of the request fails, so a request
 * applies wholly or not at all.
 */
export class Transaction {
  private readonly undos: Array<() => void> = [];
  changed = false;
  /** Record creations, deletions and cell changes, in order (discarded on rollback). */
  readonly events: StoreEvent[] = [];
  /** Whether a table or field (including a select choice) has been changed in this transaction. */
  schemaTouched = false;

  onUndo(undo: () => void): void {
    this.changed = true;
    this.undos.push(undo);
  }

  rollback(): void {
    for (let i = this.undos.length - 1; i >= 0; i--) this.undos[i]!();
    this.undos.length = 0;
    this.events.length = 0;
    this.changed = false;
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** All bases, tables and records of one emulator. */
export class EmulatorStore {
  readonly bases = new Map<string, BaseState>();
  /** Called after every transaction that changed something (persistence hooks in here). */
  onChange: (() => void) | undefined;
  /** The write being served, if any (see {@link WriteAction}). */
  action: WriteAction | undefined;
  /** Called after a transaction that changed something commits, before `onChange` (webhooks). */
  onCommit: ((txn: Transaction, action: WriteAction | undefined) => void) | undefined;
  /** Called once per transaction, just before its first schema change is applied. */
  onSchemaWillChange: ((txn: Transaction, action: WriteAction | undefined) => void) | undefined;

  constructor(readonly ids: IdFactory) {}

  transaction<T>(work: (txn: Transaction) => T): T {
    const txn = new Transaction();
    try {
      const result = work(txn);
      if (txn.changed) {
        try {
          this.onCommit?.(txn, this.action);
        } catch (err) {
          // Reporting a change must never undo or fail the change itself.
          process.emitWarning(
            `airtable emulator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
          );
        }
        this.onChange?.();
      }
      return result;
    } catch (err) {
      txn.rollback();
      throw err;
    }
  }

  findTable(base: BaseState, idOrName: string): TableState | undefined {
    return base.tables.find((t) => t.id === idOrName) ?? base.tables.find((t) => t.name === idOrName);
  }

  tableById(base: BaseState, id: string): TableState | undefined {
    return base.tables.find((t) => t.id === id);
  }

  findField(table: TableState, idOrName: string): FieldState | undefined {
    return table.fields.find((f) => f.id === idOrName) ?? table.fields.find((f) => f.name === idOrName);
  }

  fieldById(table: TableState, id: string): FieldState | undefined {
    return table.fields.find((f) => f.id === id);
  }

  primaryField(table: TableState): FieldState {
    const field = this.fieldById(table, table.primaryFieldId) ?? table.fields[0];
    if (!field) throw new Error(`table ${table.id} has no fields`);
    return field;
  }

  insertRecord(txn: Transaction, base: BaseState, table: TableState, record: RecordState): void {
    table.records.push(record);
    base.records.set(record.id, record);
    txn.events.push({ type: 'recordCreated', table, record });
    txn.onUndo(() => {
      const index = table.records.lastIndexOf(record);
      if (index >= 0) table.records.splice(index, 1);
      base.records.delete(record.id);
    });
  }

  removeRecord(txn: Transaction, base: BaseState, table: TableState, record: RecordState): void {
    const index = table.records.indexOf(record);
    if (index < 0) return;
    table.records.splice(index, 1);
    base.records.delete(record.id);
    txn.events.push({ type: 'recordDestroyed', table, record });
    txn.onUndo(() => {
      table.records.splice(index, 0, record);
      base.records.set(record.id, record);
    });
  }

  /** Sets (or with `undefined` clears) one stored cell; returns whether the value changed. */
  setCell(txn: Transaction, record: RecordState, fieldId: string, value: unknown, at: number): boolean {
    const previous = record.cells[fieldId];
    if (sameValue(previous, value)) return false;
    const previousModified = record.modified[fieldId];
    if (value === undefined) delete record.cells[fieldId];
    else record.cells[fieldId] = value;
    record.modified[fieldId] = at;
    txn.events.push({ type: 'cellChanged', record, fieldId, before: previous });
    txn.onUndo(() => {
      if (previous === undefined) delete record.cells[fieldId];
      else record.cells[fieldId] = previous;
      if (previousModified === undefined) delete record.modified[fieldId];
      else record.modified[fieldId] = previousModified;
    });
    return true;
  }

  setLastModifiedBy(txn: Transaction, record: RecordState, user: Collaborator): void {
    const previous = record.lastModifiedBy;
    record.lastModifiedBy = user;
    txn.onUndo(() => {
      record.lastModifiedBy = previous;
    });
  }

  takeAutoNumber(txn: Transaction, table: TableState): number {
    const value = table.nextAutoNumber;
    table.nextAutoNumber++;
    txn.onUndo(() => {
      table.nextAutoNumber = value;
    });
    return value;
  }

  addChoice(txn: Transaction, field: FieldState, choice: SelectChoice): void {
    this.schemaWillChange(txn);
    const options = (field.options ??= {});
    const choices = Array.isArray(options.choices) ? (options.choices as SelectChoice[]) : [];
    options.choices = choices;
    choices.push(choice);
    txn.onUndo(() => {
      const index = choices.indexOf(choice);
      if (index >= 0) choices.splice(index, 1);
    });
  }

  /** Records a schema change (table or field) so it is undone with the rest of the request. */
  changeSchema(txn: Transaction, apply: () => void, undo: () => void): void {
    this.schemaWillChange(txn);
    apply();
    txn.onUndo(undo);
  }

  private schemaWillChange(txn: Transaction): void {
    if (txn.schemaTouched) return;
    txn.schemaTouched = true;
    this.onSchemaWillChange?.(txn, this.action);
  }

  /** Any other change (e.g. to a comment), undone with the rest of the request. */
  change(txn: Transaction, apply: () => void, undo: () => void): void {
    apply();
    txn.onUndo(undo);
  }
}

export function choicesOf(field: FieldState): SelectChoice[] {
  const choices = field.options?.choices;
  return Array.isArray(choices) ? (choices as SelectChoice[]) : [];
}

/** The latest change to an editable field of the record, or its creation when it has none. */
export function recordLastModified(record: RecordState, fieldIds?: string[]): number {
  let latest = -Infinity;
  const ids = fieldIds && fieldIds.length > 0 ? fieldIds : Object.keys(record.modified);
  for (const id of ids) {
    const at = record.modified[id];
    if (at !== undefined && at > latest) latest = at;
  }
  return latest === -Infinity ? record.createdTime : latest;
}
