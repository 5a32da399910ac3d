import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api';

/** An error for the user: announced by screen readers as it appears. */
export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {describeError(error)}
    </p>
  );
}

/** A labelled form control with an optional hint (tied to the control by aria-describedby). */
export function Field(props: {
  id: string;
  label: string;
  hint?: string;
  children: (describedBy: string | undefined) => ComponentChildren;
}) {
  const hintId = props.hint ? `${props.id}-hint` : undefined;
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children(hintId)}
      {props.hint && (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

/** A status word with its colour; the word itself carries the meaning. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status.replace(/[^a-z_]/g, '')}`}>{status.replace(/_/g, ' ')}</span>;
}

/** The page's heading: focused when the page opens, so keyboard and screen-reader users start there. */
export function PageTitle({ children, title }: { children: ComponentChildren; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Airtable Ops`;
    // Only move focus when it is not already inside the page (e.g. on a form the user is filling).
    if (!document.activeElement || document.activeElement === document.body) ref.current?.focus();
  }, [title]);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

/**
 * Runs `load` now and every `intervalMs` while `active` and the page is visible; the latest result
 * wins, a result that arrives after unmounting is dropped.
 */
export function usePolling<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  options: { intervalMs: number; active?: (value: T | undefined) => boolean },
) {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const latest = useRef<T | undefined>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const run = async () => {
      try {
        const next = await load(controller.signal);
        if (stopped) return;
        latest.current = next;
        setValue(next);
        setError(null);
      } catch (err) {
        if (stopped || (err as Error).name === 'AbortError') return;
        setError(err);
      }
      if (stopped) return;
      if (options.active && !options.active(latest.current)) return;
      timer = setTimeout(() => {
        if (document.visibilityState === 'hidden') {
          const resume = () => {
            document.removeEventListener('visibilitychange', resume);
            if (!stopped) void run();
          };
          document.addEventListener('visibilitychange', resume);
        } else void run();
      }, options.intervalMs);
    };
    void run();
    return () => {
      stopped = true;
      controller.abort();
      clearTimeout(timer);
    };
    // The caller names what the load depends on, as with useEffect.
  }, [...deps, tick]);
  return { value, error, reload: () => setTick((t) => t + 1), setValue };
}
