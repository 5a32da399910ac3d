import type { GenerateContentResponse } from '@google/genai';
import { startGeminiEmulator, type GeminiEmulator } from '../src';
import { clientFor, FLASH, GEMINI_3, post } from './helpers';

const LONG =
  'Streaming splits this answer into several chunks, each one a complete GenerateContentResponse of its own.';

describe('streamGenerateContent (?alt=sse)', () => {
  let emulator: GeminiEmulator;
  beforeAll(async () => {
    emulator = await startGeminiEmulator();
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.reset());

  async function collect(
    stream: AsyncGenerator<GenerateContentResponse>,
  ): Promise<GenerateContentResponse[]> {
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  }

  it('splits text across chunks; usage on every chunk, finishReason on the last', async () => {
    emulator.script([{ text: LONG }]);
    const chunks = await collect(
      await clientFor(emulator).models.generateContentStream({ model: FLASH, contents: 'go' }),
    );
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.map((c) => c.text).join('')).toBe(LONG);
    expect(chunks.every((c) => c.usageMetadata?.promptTokenCount === 1)).toBe(true);
    expect(chunks.every((c) => c.responseId === chunks[0]!.responseId && c.modelVersion === FLASH)).toBe(
      true,
    );
    expect(chunks.slice(0, -1).every((c) => c.candidates?.[0]?.finishReason === undefined)).toBe(true);
    const last = chunks[chunks.length - 1]!;
    expect(last.candidates?.[0]?.finishReason).toBe('STOP');
    expect(last.usageMetadata?.candidatesTokenCount).toBe(Math.ceil(LONG.length / 4));
    expect(emulator.requests()[0]).toMatchObject({
      path: `/v1beta/models/${FLASH}:streamGenerateContent?alt=sse`,
      stream: true,
      status: 200,
    });
  });

  it('sends function calls whole, in the last chunk, after the text', async () => {
    emulator.script([
      {
        text: 'Let me look at both tables for you right away.',
        functionCalls: [
          { name: 'list_records', args: { tableId: 'Tasks' } },
          { name: 'list_records', args: { tableId: 'Projects' } },
        ],
      },
    ]);
    const chunks = await collect(
      await clientFor(emulator).models.generateContentStream({ model: GEMINI_3, contents: 'records please' }),
    );
    const last = chunks[chunks.length - 1]!;
    expect(last.functionCalls?.map((c) => c.args)).toEqual([{ tableId: 'Tasks' }, { tableId: 'Projects' }]);
    expect(last.candidates?.[0]?.content?.parts?.[0]?.thoughtSignature).toEqual(expect.any(String));
    expect(last.candidates?.[0]?.content?.parts?.[1]?.thoughtSignature).toBeUndefined();
    expect(chunks.slice(0, -1).every((c) => c.functionCalls === undefined)).toBe(true);
    expect(
      chunks
        .slice(0, -1)
        .map((c) => c.text)
        .join(''),
    ).toBe('Let me look at both tables for you right away.');
    expect(last.usageMetadata?.thoughtsTokenCount).toBeGreaterThan(0);
  });

  it('writes `data: {json}` events separated by blank lines', async () => {
    emulator.script([{ text: LONG }]);
    const answer = await post(emulator, `/v1beta/models/${FLASH}:streamGenerateContent?alt=sse`, {
      contents: [{ role: 'user', parts: [{ text: 'go' }] }],
    });
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('text/event-stream');
    const events = answer.text.split('\n\n').filter((e) => e !== '');
    expect(events.length).toBeGreaterThan(2);
    for (const event of events) {
      expect(event.startsWith('data: ')).toBe(true);
      expect(() => JSON.parse(event.slice(6))).not.toThrow();
    }
  });

  it('keeps a streamed function call, signature included, in a chat history the next request replays', async () => {
    emulator.script([
      { functionCalls: [{ name: 'list_tables', args: {} }] },
      { text: 'There are two tables.' },
    ]);
    const chat = clientFor(emulator).chats.create({ model: GEMINI_3 });
    const first = await collect(await chat.sendMessageStream({ message: 'tables?' }));
    const call = first[first.length - 1]!.functionCalls![0]!;
    const second = await collect(
      await chat.sendMessageStream({
        message: [{ functionResponse: { id: call.id!, name: call.name!, response: { output: ['A', 'B'] } } }],
      }),
    );
    expect(second.map((c) => c.text).join('')).toBe('There are two tables.');
    expect(emulator.requests().map((r) => r.status)).toEqual([200, 200]);
  });

  it('answers errors before the stream starts as JSON with their status', async () => {
    emulator.setFaults({ failNext: { status: 503 } });
    await expect(
      clientFor(emulator).models.generateContentStream({ model: FLASH, contents: 'go' }),
    ).rejects.toMatchObject({ name: 'ApiError', status: 503 });
  });
});
