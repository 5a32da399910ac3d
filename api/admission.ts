import { AsyncResource } from 'node:async_hooks';
import type { RequestHandler } from 'express';

/**
 * Admits the requests it guards one per turn of the event loop, in the order they arrived, with
 * the process's I/O (Postgres answers, Airtable's) handled between two of them.
 *
 * Node otherwise takes every request of a burst through each stage together (parse, authenticate,
 * plan, book an Airtable start), so the first one waits for all the others to get as far, and its
 * database answers wait behind their work: each request of a burst of 100 then finishes when the
 * last one could. Taken in turn, the first to arrive is the first served and booked, and the burst's
 * total time is unchanged (the same work, in another order). Only the part of a request up to its
 * first wait on I/O runs in its turn; the rest interleaves as before.
 */
export function oneRequestPerTurn(): RequestHandler {
  const waiting: Array<() => void> = [];
  let scheduled = false;
  const admitNext = () => {
    scheduled = false;
    waiting.shift()?.();
    schedule();
  };
  const schedule = () => {
    if (scheduled || waiting.length === 0) return;
    scheduled = true;
    // An immediate runs after the I/O that is ready, so answers come in between two admissions.
    setImmediate(admitNext);
  };
  return (_req, _res, next) => {
    // Bound to the request's own async context (its log context), not the admitting one's.
    waiting.push(AsyncResource.bind(() => next()));
    schedule();
  };
}
