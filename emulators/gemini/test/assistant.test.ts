import { FunctionCallingConfigMode, type Content } from '@google/genai';
import { startGeminiEmulator, type GeminiEmulator } from '../src';
import { clientFor, GEMINI_3, listRecordsDeclaration, listTablesDeclaration } from './helpers';

const BASE = 'appDEMOopsBase001';
const config = {
  systemInstruction: `You operate the Airtable base ${BASE}.`,
  tools: [{ functionDeclarations: [listTablesDeclaration, listRecordsDeclaration] }],
};

describe('the built-in assistant (no script)', () => {
  let emulator: GeminiEmulator;
  beforeAll(async () => {
    emulator = await startGeminiEmulator();
  });
  afterAll(() => emulator.close());

  it('calls list_tables with the base from the conversation, then summarises the function response', async () => {
    const client = clientFor(emulator);
    const history: Content[] = [{ role: 'user', parts: [{ text: 'Which tables are there?' }] }];
    const first = await client.models.generateContent({ model: GEMINI_3, contents: history, config });
    expect(first.functionCalls).toEqual([
      { name: 'list_tables', args: { baseId: BASE }, id: expect.any(String) },
    ]);
    history.push(first.candidates![0]!.content!);
    history.push({
      role: 'user',
      parts: [
        {
          functionResponse: {
            id: first.functionCalls![0]!.id!,
            name: 'list_tables',
            // MCP-style result: text content holding JSON.
            response: {
              output: {
                content: [
                  {
                    type: 'text',
                    text: JSON.stringify([
                      { id: 'tbl1', name: 'Tasks' },
                      { id: 'tbl2', name: 'Projects' },
                    ]),
                  },
                ],
              },
            },
          },
        },
      ],
    });
    const second = await client.models.generateContent({ model: GEMINI_3, contents: history, config });
    expect(second.text).toBe('The base has 2 tables: Tasks, Projects.');
    expect(second.functionCalls).toBeUndefined();
    history.push(second.candidates![0]!.content!);

    // Next turn: table names known from the list_tables answer; two tables → two parallel calls.
    history.push({ role: 'user', parts: [{ text: 'How many tasks and projects are there?' }] });
    const third = await client.models.generateContent({ model: GEMINI_3, contents: history, config });
    expect(third.functionCalls?.map((c) => c.args)).toEqual([
      { baseId: BASE, tableId: 'Tasks' },
      { baseId: BASE, tableId: 'Projects' },
    ]);
    history.push(third.candidates![0]!.content!);
    history.push({
      role: 'user',
      parts: third.functionCalls!.map((call, i) => ({
        functionResponse: {
          id: call.id!,
          name: call.name!,
          response: {
            output: { records: Array.from({ length: i + 2 }, (_, n) => ({ id: `rec${n}`, fields: {} })) },
          },
        },
      })),
    });
    const fourth = await client.models.generateContent({ model: GEMINI_3, contents: history, config });
    expect(fourth.text).toBe('There are 2 records in Tasks.\nThere are 3 records in Projects.');
    expect(emulator.requests().every((r) => r.status === 200 && r.answeredBy === 'assistant')).toBe(true);
  });

  it('asks for what a tool needs, reports tool errors, and echoes when no tool fits', async () => {
    const client = clientFor(emulator);
    const noBase = await client.models.generateContent({
      model: GEMINI_3,
      contents: 'list the tables',
      config: { tools: config.tools },
    });
    expect(noBase.text).toBe('Which base do you mean? Give me its id (app…).');
    const chat = await client.models.generateContent({ model: GEMINI_3, contents: 'Good morning', config });
    expect(chat.text).toBe('You said: "Good morning"');
    const none = await client.models.generateContent({
      model: GEMINI_3,
      contents: 'list the tables',
      config: { ...config, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.NONE } } },
    });
    expect(none.functionCalls).toBeUndefined();
    const failed = await client.models.generateContent({
      model: GEMINI_3,
      contents: [
        { role: 'user', parts: [{ text: 'records in Tasks' }] },
        {
          role: 'model',
          parts: [
            { functionCall: { name: 'list_records', args: { tableId: 'Tasks' } }, thoughtSignature: 'sig' },
          ],
        },
        {
          role: 'user',
          parts: [
            {
              functionResponse: { name: 'list_records', response: { error: { message: 'Table not found' } } },
            },
          ],
        },
      ],
      config,
    });
    expect(failed.text).toBe('list_records failed: Table not found');
  });
});
