import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/helpers';

// Histories recorded from real runs (scripts/record-history.ts). Today's workflow code must replay
// them exactly; a change that would break running workflows fails here first.
const DIR = path.join(__dirname, '..', 'fixtures', 'histories');
const histories = readdirSync(DIR).filter((f) => f.endsWith('.json'));

describe('replay of recorded histories', () => {
  it('has histories to replay', () => {
    expect(histories).toEqual(
      expect.arrayContaining([
        'provision-active.json',
        'provision-failed.json',
        'changeset-completed.json',
        'changeset-compensated.json',
        'changeset-cancelled.json',
        'conversation-approved-write.json',
        'conversation-declined.json',
        'conversation-step-cap.json',
      ]),
    );
  });

  it.each(histories)('%s replays deterministically', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(DIR, file), 'utf8')));
    await expect(
      Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, path.basename(file, '.json')),
    ).resolves.toBeUndefined();
  });
});
