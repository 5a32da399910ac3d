import type { ModelPrice } from '../../core/agent-config';
import { bounded, llmCallDuration, llmCalls, llmCost, llmTokens } from '../../core/metrics';
import { costOf, type LanguageModel } from './llm';

/**
 * A language model whose every call is counted for the metrics: calls by outcome, tokens by type and
 * cost by model (at `prices`, as the engine bills them). Every call is counted, retries included:
 * they are real calls, and billed. The model label is one of the price table's models (`other` for
 * any other), since a workspace may name any model in its settings.
 */
export function meteredModel(
  model: LanguageModel,
  prices: Readonly<Record<string, ModelPrice>>,
): LanguageModel {
  const known = new Set(Object.keys(prices));
  return {
    async generate(request) {
      const label = bounded(request.model, known);
      const end = llmCallDuration.startTimer({ model: label });
      try {
        const response = await model.generate(request);
        llmCalls.inc({ model: label, outcome: 'ok' });
        const { inputTokens, outputTokens, thinkingTokens } = response.usage;
        llmTokens.inc({ model: label, type: 'input' }, inputTokens);
        llmTokens.inc({ model: label, type: 'output' }, outputTokens);
        llmTokens.inc({ model: label, type: 'thinking' }, thinkingTokens ?? 0);
        llmCost.inc({ model: label }, costOf(prices, request.model, response.usage));
        return response;
      } catch (err) {
        llmCalls.inc({ model: label, outcome: 'error' });
        throw err;
      } finally {
        end();
      }
    },
  };
}
