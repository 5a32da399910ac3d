import { z } from 'zod';

/** How the MCP endpoint behaves. */
export interface McpSettings {
  /** How long a record write waits for its change set before answering with the job id. @default 20000 */
  writeWaitMs: number;
}

export const DEFAULT_MCP_SETTINGS: McpSettings = { writeWaitMs: 20_000 };

const Env = z.object({
  MCP_WRITE_WAIT_SECONDS: z.coerce.number().min(0).max(300).optional(),
});

/** The settings from `MCP_WRITE_WAIT_SECONDS` (0 to 300; default 20); a bad value is refused at start. */
export function mcpSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): McpSettings {
  const parsed = Env.safeParse(env);
  if (!parsed.success)
    throw new Error(`Invalid environment: MCP_WRITE_WAIT_SECONDS must be a number of seconds from 0 to 300`);
  const seconds = parsed.data.MCP_WRITE_WAIT_SECONDS;
  return seconds === undefined ? DEFAULT_MCP_SETTINGS : { writeWaitMs: Math.round(seconds * 1000) };
}
