/** The most a tool result may weigh when it goes back to the model. @default 24 KB */
export const RESULT_BYTE_BUDGET = 24_000;

/**
 * A tool result within `maxBytes` of JSON: a list of records (or rows) keeps as many items as fit
 * and says how many were left out and how to page on; anything else too large is cut with a note.
 */
export function boundResult(result: unknown, maxBytes = RESULT_BYTE_BUDGET): unknown {
  if (size(result) <= maxBytes) return result;
  if (result && typeof result === 'object' && !Array.isArray(result)) {
    const entries = Object.entries(result as Record<string, unknown>);
    const listKey = entries.find(([, v]) => Array.isArray(v))?.[0];
    if (listKey) {
      const list = (result as Record<string, unknown[]>)[listKey]!;
      const rest = { ...(result as Record<string, unknown>) };
      // Binary search for the longest prefix that fits with its note.
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (
          size({ ...rest, [listKey]: list.slice(0, mid), note: noteFor(listKey, mid, list.length) }) <=
          maxBytes
        )
          lo = mid;
        else hi = mid - 1;
      }
      return {
        ...rest,
        [listKey]: list.slice(0, lo),
        truncated: true,
        note: noteFor(listKey, lo, list.length),
      };
    }
  }
  const text = JSON.stringify(result);
  return {
    truncated: true,
    note: `The result was ${text.length} characters; only the first part is shown. Ask for less (fewer fields, a filter, maxRecords).`,
    partial: text.slice(0, Math.max(0, maxBytes - 300)),
  };
}

function noteFor(listKey: string, shown: number, total: number): string {
  return `Showing ${shown} of ${total} ${listKey}; the rest were left out to keep this answer small. Ask for fewer fields, add a filter, or page on with maxRecords/offset.`;
}

function size(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}
