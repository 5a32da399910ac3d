import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { JobService, JobView } from './service';
import type { JobRecord } from './store';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * A job's progress as a stream of events, read from its workflow's history: the one record of
 * what happened that Temporal keeps durably. An event's id is its place in that history
 * (`<run>.<event id>`, the run counted from 0 across continue-as-new), so a client that reconnects
 * with the last id it saw is sent every later event, and nothing twice.
 *
 * Events (data holds names, counts and messages; never payload values):
 * - `started` `{kind, workflowType}`: the workflow started;
 * - `step_completed` `{step, attempt}` / `step_failed` `{step, message}`: an activity ended;
 * - `child_completed` / `child_failed` `{workflowType, workflowId}`: a child job ended;
 * - `cancel_requested` `{}`;
 * - `progress` `{progress}`: the job's progress (its workflow's progress query) after the events
 *   before it, with the id of the last of them;
 * - `ended`: the job's final view, as `GET /api/v1/jobs/:id` answers it; the stream's last event.
 */
export interface JobEvent {
  id: string;
  type:
    | 'started'
    | 'step_completed'
    | 'step_failed'
    | 'child_completed'
    | 'child_failed'
    | 'cancel_requested'
    | 'progress'
    | 'ended';
  data: unknown;
}

/** A place in a job's history: run (0 = the first) and event id; `{run: 0, event: 0}` is the start. */
export interface JobEventCursor {
  run: number;
  event: number;
}

/** Parses a `Last-Event-ID` of a job stream; undefined when it is not one. */
export function parseJobCursor(text: string | undefined): JobEventCursor | undefined {
  if (text === undefined || text === '') return { run: 0, event: 0 };
  const match = /^(\d{1,6})\.(\d{1,15})$/.exec(text);
  if (!match) return undefined;
  return { run: Number(match[1]), event: Number(match[2]) };
}

export function formatJobCursor(cursor: JobEventCursor): string {
  return `${cursor.run}.${cursor.event}`;
}

const after = (a: JobEventCursor, b: JobEventCursor) =>
  a.run > b.run || (a.run === b.run && a.event > b.event);

/** How long one read waits for new history before it answers with no events. */
const LONG_POLL_MS = 10_000;

/**
 * A reader of one job's events for one client connection: each `read` answers the events after
 * the cursor, long-polling Temporal for new history while the job runs.
 */
export function jobEventReader(
  deps: { client: Client; jobs: JobService },
  job: JobRecord,
  from: JobEventCursor,
) {
  const { client, jobs } = deps;
  const namespace = client.options.namespace;
  let runIds: string[] | undefined;
  let run = 0;
  let pageToken: Uint8Array | undefined;
  /** Activity and child types by their scheduling event, for the events that end them. */
  const scheduled = new Map<string, string>();
  let ended = false;
  let lastSent: JobEventCursor = from;

  async function ending(cursor: JobEventCursor): Promise<JobEvent> {
    ended = true;
    const view: JobView = await jobs.describe(job);
    return { id: formatJobCursor(cursor), type: 'ended', data: view };
  }

  /** The first run of the job's workflow; undefined while the job is not started (yet). */
  async function firstRun(): Promise<string | undefined> {
    try {
      const description = await client.workflow.getHandle(job.id).describe();
      return description.raw.workflowExecutionInfo?.firstRunId || description.runId;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  return {
    async read(signal: AbortSignal): Promise<JobEvent[]> {
      if (ended) return [];
      if (!runIds) {
        const first = await firstRun();
        if (!first) {
          // Recorded but not started: wait for it, unless it was given up or has ended without a history.
          const view = await jobs.describe(job);
          if (view.status === 'pending' || view.status === 'running') return [];
          return [await ending(lastSent)];
        }
        runIds = [first];
      }
      const runId = runIds[run]!;
      let response: temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryResponse;
      // A signal of its own per call: the SDK adds an abort listener to the signal of every call and
      // never removes it, so the connection's long-lived signal only holds this call's link.
      const call = new AbortController();
      const cancel = () => call.abort();
      signal.addEventListener('abort', cancel, { once: true });
      try {
        response = await client.withAbortSignal(call.signal, () =>
          client.withDeadline(Date.now() + LONG_POLL_MS, () =>
            client.workflowService.getWorkflowExecutionHistory({
              namespace,
              execution: { workflowId: job.id, runId },
              nextPageToken: pageToken,
              waitNewEvent: true,
              skipArchival: true,
            }),
          ),
        );
      } catch (err) {
        if (signal.aborted) return [];
        // The long poll found nothing new within its deadline: read again.
        if ((err as { code?: number }).code === 4 /* DEADLINE_EXCEEDED */) return [];
        throw err;
      } finally {
        signal.removeEventListener('abort', cancel);
      }
      const events: JobEvent[] = [];
      let last: JobEventCursor | undefined;
      let closed = false;
      for (const event of response.history?.events ?? []) {
        const cursor = { run, event: Number(event.eventId ?? 0) };
        last = cursor;
        const mapped = describeEvent(event, run, scheduled);
        if (mapped === 'continued') {
          const next = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
          if (next) runIds.push(next);
          continue;
        }
        if (mapped === 'closed') {
          closed = true;
          if (after(cursor, lastSent)) events.push(await ending(cursor));
          break;
        }
        if (mapped && after(cursor, lastSent)) events.push({ id: formatJobCursor(cursor), ...mapped });
      }
      const token = response.nextPageToken;
      if (!closed && token && token.length > 0) pageToken = token;
      else if (!closed && runIds.length > run + 1) {
        run += 1;
        pageToken = undefined;
      } else if (!closed) {
        // A history without a close event and no more pages: the run ended as continued-as-new,
        // whose next run is followed above; anything else means the job is gone.
        if (!ended) events.push(await ending(last ?? lastSent));
      }
      const moved = events.filter((e) => e.type !== 'ended');
      if (moved.length > 0 && !ended) {
        const progress = await jobs.describe(job).catch(() => undefined);
        if (progress?.status === 'running')
          events.push({
            id: moved.at(-1)!.id,
            type: 'progress',
            data: { progress: progress.progress ?? null },
          });
      }
      if (events.length > 0) lastSent = parseJobCursor(events.at(-1)!.id)!;
      return events;
    },
  };
}

/** What one history event means for the job: an event to send, a run boundary, the end, or nothing. */
function describeEvent(
  event: HistoryEvent,
  run: number,
  scheduled: Map<string, string>,
): Pick<JobEvent, 'type' | 'data'> | 'continued' | 'closed' | undefined {
  const id = String(event.eventId ?? '');
  if (event.workflowExecutionStartedEventAttributes) {
    if (run > 0) return undefined;
    const a = event.workflowExecutionStartedEventAttributes;
    return { type: 'started', data: { workflowType: a.workflowType?.name ?? null } };
  }
  if (event.activityTaskScheduledEventAttributes) {
    scheduled.set(id, event.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity');
    return undefined;
  }
  if (event.activityTaskCompletedEventAttributes) {
    const a = event.activityTaskCompletedEventAttributes;
    return {
      type: 'step_completed',
      data: { step: scheduled.get(String(a.scheduledEventId ?? '')) ?? null },
    };
  }
  if (event.activityTaskFailedEventAttributes || event.activityTaskTimedOutEventAttributes) {
    const a = event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes!;
    return {
      type: 'step_failed',
      data: {
        step: scheduled.get(String(a.scheduledEventId ?? '')) ?? null,
        message: a.failure?.message ?? 'timed out',
      },
    };
  }
  if (event.startChildWorkflowExecutionInitiatedEventAttributes) {
    scheduled.set(
      id,
      event.startChildWorkflowExecutionInitiatedEventAttributes.workflowType?.name ?? 'workflow',
    );
    return undefined;
  }
  const childEnd =
    event.childWorkflowExecutionCompletedEventAttributes ??
    event.childWorkflowExecutionFailedEventAttributes ??
    event.childWorkflowExecutionCanceledEventAttributes ??
    event.childWorkflowExecutionTimedOutEventAttributes ??
    event.childWorkflowExecutionTerminatedEventAttributes;
  if (childEnd) {
    return {
      type: event.childWorkflowExecutionCompletedEventAttributes ? 'child_completed' : 'child_failed',
      data: {
        workflowType:
          childEnd.workflowType?.name ?? scheduled.get(String(childEnd.initiatedEventId ?? '')) ?? null,
        workflowId: childEnd.workflowExecution?.workflowId ?? null,
      },
    };
  }
  if (event.workflowExecutionCancelRequestedEventAttributes) return { type: 'cancel_requested', data: {} };
  if (event.workflowExecutionContinuedAsNewEventAttributes) return 'continued';
  if (
    event.workflowExecutionCompletedEventAttributes ||
    event.workflowExecutionFailedEventAttributes ||
    event.workflowExecutionCanceledEventAttributes ||
    event.workflowExecutionTerminatedEventAttributes ||
    event.workflowExecutionTimedOutEventAttributes
  )
    return 'closed';
  return undefined;
}
