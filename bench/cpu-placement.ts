import { spawnSync } from 'node:child_process';
import os from 'node:os';

/** Where a benchmark's load generators run relative to the process it measures. */
export interface CpuPlacement {
  /** `apart` when the clients have a core of their own, else `shared`. */
  mode: 'apart' | 'shared';
  /** One sentence for bench/RESULTS.md. */
  description: string;
  /** The command and arguments that start `command args` where the clients belong. */
  forClients(command: string, args: string[]): [string, string[]];
}

/**
 * Gives a benchmark's client processes the machine's last core and this process (and the threads
 * it has) the others, with `taskset`. Clients stand in for agents on machines of their own: on a
 * small machine, sharing the measured process's cores, their CPU would be counted as its latency.
 * Processes started before this call (an emulator, a dev server) keep every core. `shared` (or a
 * machine with one core, or no `taskset`) leaves everything where the scheduler puts it.
 */
export function placeClients(wanted: 'apart' | 'shared'): CpuPlacement {
  const cores = os.availableParallelism();
  const shared: CpuPlacement = {
    mode: 'shared',
    description: `the clients share the machine's ${cores} cores with the API`,
    forClients: (command, args) => [command, args],
  };
  if (wanted === 'shared' || cores < 2) return shared;
  const own = `0-${cores - 2}`;
  const pinned = spawnSync('taskset', ['-a', '-cp', own, String(process.pid)], { stdio: 'ignore' });
  if (pinned.error || pinned.status !== 0) {
    console.error('note: taskset is not available; the clients share the cores with the API');
    return shared;
  }
  const theirs = String(cores - 1);
  return {
    mode: 'apart',
    description: `the clients on core ${theirs} of ${cores}, the API (and the direct path, in the same process) on core${cores > 2 ? 's' : ''} ${cores > 2 ? own : '0'}`,
    forClients: (command, args) => ['taskset', ['-c', theirs, command, ...args]],
  };
}
