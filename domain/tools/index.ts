import { analysisTools } from './analysis';
import { readingTools } from './reading';
import type { ToolDefinition } from './registry';
import { writingTools } from './writing';

export * from './registry';
export { boundResult, RESULT_BYTE_BUDGET } from './results';

/**
 * Every tool of the platform, one definition each: the agent offers them to Gemini, the MCP
 * endpoint to any MCP client. Names and arguments follow `airtable-mcp-server` where it has the tool.
 */
export const TOOLS: readonly ToolDefinition[] = [...readingTools, ...writingTools, ...analysisTools];

const byName = new Map(TOOLS.map((t) => [t.name, t]));

/** A tool by name. */
export function findTool(name: string): ToolDefinition | undefined {
  return byName.get(name);
}
