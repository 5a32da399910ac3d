import { compact, pretty } from '../format';

type Fields = Record<string, unknown>;

interface RecordPreview {
  table?: string;
  create?: Fields[];
  upsert?: Fields[];
  mergeOn?: string[];
  update?: Array<{ id: string; before?: Fields | null; after?: Fields }>;
  delete?: Array<{ id: string; before?: Fields | null }>;
  steps?: Array<{ table: string; action: string; records: unknown[] }>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const cell = (v: unknown) => (v === null || v === undefined ? '—' : compact(v, 120));

/** One record's fields, before and after (either may be missing: a creation, a deletion). */
function RecordTable(props: { caption: string; before?: Fields | null; after?: Fields | null }) {
  const names = [...new Set([...Object.keys(props.before ?? {}), ...Object.keys(props.after ?? {})])];
  const showBefore = props.before !== undefined;
  const showAfter = props.after !== undefined;
  return (
    <table class="preview-table">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Field</th>
          {showBefore && <th scope="col">Before</th>}
          {showAfter && <th scope="col">After</th>}
        </tr>
      </thead>
      <tbody>
        {names.map((name) => {
          const before = props.before?.[name];
          const after = props.after?.[name];
          const changed = showBefore && showAfter && JSON.stringify(before) !== JSON.stringify(after);
          return (
            <tr key={name} class={changed ? 'changed' : undefined}>
              <th scope="row">{name}</th>
              {showBefore && <td>{cell(before)}</td>}
              {showAfter && <td>{cell(after)}</td>}
            </tr>
          );
        })}
        {names.length === 0 && (
          <tr>
            <td colSpan={3}>No fields</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

/**
 * What an approval would change, as the engine previews it: for record writes, each record's fields
 * before and after; for other tools, their arguments.
 */
export function PreviewView({ preview }: { preview: unknown }) {
  if (!isObject(preview)) return <pre>{pretty(preview)}</pre>;
  const p = preview as RecordPreview;
  const table = p.table ? ` in ${p.table}` : '';
  const parts = [];
  if (Array.isArray(p.update))
    parts.push(
      ...p.update.map((r, i) => (
        <RecordTable
          key={`u${i}`}
          caption={`Update record ${r.id}${table}`}
          before={r.before ?? {}}
          after={r.after ?? {}}
        />
      )),
    );
  if (Array.isArray(p.create))
    parts.push(
      ...p.create.map((fields, i) => (
        <RecordTable key={`c${i}`} caption={`New record${table}`} after={fields} />
      )),
    );
  if (Array.isArray(p.upsert))
    parts.push(
      ...p.upsert.map((fields, i) => (
        <RecordTable
          key={`p${i}`}
          caption={`Create or update${table}${p.mergeOn ? `, matched on ${p.mergeOn.join(', ')}` : ''}`}
          after={fields}
        />
      )),
    );
  if (Array.isArray(p.delete))
    parts.push(
      ...p.delete.map((r, i) => (
        <RecordTable key={`d${i}`} caption={`Delete record ${r.id}${table}`} before={r.before ?? {}} />
      )),
    );
  if (Array.isArray(p.steps))
    parts.push(
      <ol key="steps" class="steps">
        {p.steps.map((s, i) => (
          <li key={i}>
            {s.action} {s.records.length} record{s.records.length === 1 ? '' : 's'} in {s.table}
            <details>
              <summary>Records</summary>
              <pre>{pretty(s.records)}</pre>
            </details>
          </li>
        ))}
      </ol>,
    );
  if (parts.length === 0) return <pre>{pretty(preview)}</pre>;
  return <div class="preview">{parts}</div>;
}
