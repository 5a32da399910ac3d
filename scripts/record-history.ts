import { writeFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/**
 * Saves a workflow's event history as JSON, for replay tests:
 *   tsx scripts/record-history.ts <workflowId> <file> [address]
 * Replaying recorded histories against today's workflow code catches non-deterministic changes
 * before they break running workflows.
 */
async function main(): Promise<void> {
  const [workflowId, file, address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233'] = process.argv.slice(2);
  if (!workflowId || !file) throw new Error('usage: record-history.ts <workflowId> <file> [address]');
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    writeFileSync(file, `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 1)}\n`);
    console.log(`wrote ${history.events?.length ?? 0} events of ${workflowId} to ${file}`);
  } finally {
    await connection.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
