import { z } from 'zod';

// The agent's model and price table: configuration, not code, because Google changes both.

/** A current flash model (Google is retiring the 2.5 models). */
export const DEFAULT_GEMINI_MODEL = 'gemini-3-flash-preview';

/** Prices of a model, in USD per million tokens (thinking tokens are billed as output). */
export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

/**
 * List prices (paid tier, prompts ≤ 200k tokens) from ai.google.dev/gemini-api/docs/pricing;
 * `GEMINI_PRICES` (JSON: `{"model":{"inputPerMillion":…,"outputPerMillion":…}}`) overrides or adds.
 */
export const DEFAULT_MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gemini-3-flash-preview': { inputPerMillion: 0.5, outputPerMillion: 3.0 },
  'gemini-3-pro-preview': { inputPerMillion: 2.0, outputPerMillion: 12.0 },
  'gemini-2.5-flash': { inputPerMillion: 0.3, outputPerMillion: 2.5 },
  'gemini-2.5-pro': { inputPerMillion: 1.25, outputPerMillion: 10.0 },
};

const Prices = z.record(
  z.string().min(1),
  z.object({ inputPerMillion: z.number().min(0), outputPerMillion: z.number().min(0) }).strict(),
);

/** `GEMINI_PRICES` as a price table; a malformed value stops the process with a clear message. */
export function parsePrices(json: string | undefined): Record<string, ModelPrice> {
  if (!json) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('GEMINI_PRICES must be JSON: {"model":{"inputPerMillion":0.5,"outputPerMillion":3}}');
  }
  const parsed = Prices.safeParse(value);
  if (!parsed.success) throw new Error(`GEMINI_PRICES is invalid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** The agent's settings as the engine takes them, from the validated configuration. */
export function agentSettings(config: {
  gemini: { model: string; prices: Record<string, ModelPrice> };
  agent: { maxStepsPerTurn: number; approvalTtlSeconds: number; contextTokenBudget: number };
}) {
  return {
    defaultModel: config.gemini.model,
    prices: config.gemini.prices,
    maxStepsPerTurn: config.agent.maxStepsPerTurn,
    approvalTtlMs: config.agent.approvalTtlSeconds * 1000,
    contextTokenBudget: config.agent.contextTokenBudget,
  };
}
