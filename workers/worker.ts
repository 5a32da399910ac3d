import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { dataConverter } from '../temporal/data-converter';
import { observeActivities } from './observability';

/** Options for {@link createPlatformWorker}. */
export interface PlatformWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (tests build it once per run); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** @default 100 */
  maxConcurrentActivityTaskExecutions?: number;
}

/** A worker that runs every workflow and activity of the platform on one task queue. */
export async function createPlatformWorker(options: PlatformWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities(options.deps),
    dataConverter,
    // Workflow and activity ids on every log line of an activity; sync-run metrics.
    interceptors: { activity: [observeActivities] },
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 100,
    // Gives in-flight activities time to finish on SIGTERM before they are abandoned to a retry.
    shutdownGraceTime: '10s',
    ...WORKER_TIMING,
  });
}

/** How a worker talks to the server, the same in production and in the tests' workers. */
export const WORKER_TIMING = {
  // A workflow task waits this long for the worker that cached the workflow before any worker
  // takes it. After a crash that worker never comes back, so every workflow it held would stall
  // for the SDK's default 10 s; our histories are short, so a replay elsewhere is the cheaper wait.
  stickyQueueScheduleToStartTimeout: '3s',
  // The SDK sends beats at most every 80% of the heartbeat timeout: with a 5 s timeout, one late
  // answer from a busy server (over 1 s) timed out a live change-set slice. Beats leave every
  // second instead, so a timeout means a worker silent for several seconds.
  maxHeartbeatThrottleInterval: '1s',
} satisfies Partial<WorkerOptions>;
