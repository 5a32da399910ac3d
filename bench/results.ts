import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const RESULTS = path.join(__dirname, 'RESULTS.md');

/**
 * Replaces (or adds) the section `## <name>` of bench/RESULTS.md with the figures of this run, the
 * command that produced them, and the machine it ran on.
 */
export function recordResult(name: string, command: string, lines: string[]): void {
  const header =
    '# Benchmark results\n\nEach section is rewritten by the command it names. Figures are from one run on the machine stated.\n';
  const current = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : header;
  const section = [
    `## ${name}`,
    '',
    `Command: \`${command}\``,
    '',
    `Run: ${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    '',
    ...lines,
    '',
  ].join('\n');
  const pattern = new RegExp(`## ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n[\\s\\S]*?(?=\\n## |$)`);
  const next = pattern.test(current)
    ? current.replace(pattern, section.trimEnd() + '\n')
    : `${current.trimEnd()}\n\n${section}`;
  writeFileSync(RESULTS, next.endsWith('\n') ? next : `${next}\n`);
}
