import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolveTemporalCli } from '../temporal/cli';

/**
 * Saves a workflow's event history as JSON, for replay tests:
 *   npx tsx scripts/record-history.ts <workflowId> <file> [address]
 * Replaying recorded histories against today's workflow code catches non-deterministic changes
 * before they break running workflows. The file is what `temporal workflow show --output json` prints.
 * Payloads are encrypted in Temporal (temporal/codec.ts) and the replay test reads plain JSON: with
 * CODEC_ENDPOINT (e.g. `http://127.0.0.1:3000/codec`) and CODEC_TOKEN set, the API's codec server
 * decrypts them before they are saved.
 */
async function main(): Promise<void> {
  const [workflowId, file, address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233'] =
    process.argv.slice(2);
  if (!workflowId || !file) throw new Error('usage: record-history.ts <workflowId> <file> [address]');
  const cli = await resolveTemporalCli();
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const json = execFileSync(
    cli.path,
    [
      'workflow',
      'show',
      '--address',
      address,
      '--namespace',
      namespace,
      '--workflow-id',
      workflowId,
      '--output',
      'json',
      ...(process.env.CODEC_ENDPOINT
        ? [
            '--codec-endpoint',
            process.env.CODEC_ENDPOINT,
            '--codec-auth',
            `Bearer ${process.env.CODEC_TOKEN ?? ''}`,
          ]
        : []),
    ],
    {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  writeFileSync(file, json.endsWith('\n') ? json : `${json}\n`);
  console.log(`wrote the history of ${workflowId} to ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
