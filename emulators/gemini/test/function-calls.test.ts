import { createPartFromFunctionCall, createPartFromFunctionResponse, type Content } from '@google/genai';
import { startGeminiEmulator, THOUGHT_SIGNATURE_MESSAGE, type GeminiEmulator } from '../src';
import {
  apiErrorOf,
  clientFor,
  FLASH,
  GEMINI_3,
  listRecordsDeclaration,
  listTablesDeclaration,
} from './helpers';

const tools = [{ functionDeclarations: [listTablesDeclaration, listRecordsDeclaration] }];

describe('function calling', () => {
  let emulator: GeminiEmulator;
  beforeAll(async () => {
    emulator = await startGeminiEmulator();
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.reset());

  it('returns functionCall parts with ids; several in one turn are parallel calls', async () => {
    emulator.script([
      {
        functionCalls: [
          { name: 'list_records', args: { baseId: 'appA', tableId: 'Tasks' } },
          { name: 'list_records', args: { baseId: 'appA', tableId: 'Projects' }, id: 'fixed-id' },
        ],
      },
    ]);
    const response = await clientFor(emulator).models.generateContent({
      model: FLASH,
      contents: 'records of Tasks and Projects',
      config: { tools },
    });
    const calls = response.functionCalls!;
    expect(calls).toHaveLength(2);
    expect(calls[0]).toEqual({
      name: 'list_records',
      args: { baseId: 'appA', tableId: 'Tasks' },
      id: expect.any(String),
    });
    expect(calls[1]!.id).toBe('fixed-id');
    expect(calls[0]!.id).not.toBe(calls[1]!.id);
    expect(response.candidates?.[0]?.finishReason).toBe('STOP');
    // Not a thinking model: no signatures.
    expect(response.candidates?.[0]?.content?.parts?.some((p) => p.thoughtSignature)).toBe(false);
  });

  it('gemini-3: signs the first call of a turn only, and accepts the raw Content replayed', async () => {
    emulator.script([
      {
        functionCalls: [
          { name: 'list_records', args: { tableId: 'Tasks' } },
          { name: 'list_records', args: { tableId: 'Projects' } },
        ],
      },
      { text: 'Tasks has 3 records, Projects has 2.' },
    ]);
    const client = clientFor(emulator);
    const user: Content = { role: 'user', parts: [{ text: 'count Tasks and Projects' }] };
    const first = await client.models.generateContent({
      model: GEMINI_3,
      contents: [user],
      config: { tools },
    });
    const modelContent = first.candidates![0]!.content!;
    expect(modelContent.role).toBe('model');
    expect(modelContent.parts![0]!.thoughtSignature).toEqual(expect.any(String));
    expect(modelContent.parts![1]!.thoughtSignature).toBeUndefined();

    const responses: Content = {
      role: 'user',
      parts: first.functionCalls!.map((call) =>
        createPartFromFunctionResponse(call.id!, call.name!, { output: { records: [] } }),
      ),
    };
    const second = await client.models.generateContent({
      model: GEMINI_3,
      contents: [user, modelContent, responses],
      config: { tools },
    });
    expect(second.text).toBe('Tasks has 3 records, Projects has 2.');
    // The function responses went out with the call ids.
    const sent = emulator.requests()[1]!.body as {
      contents: Array<{ parts: Array<Record<string, unknown>> }>;
    };
    expect(sent.contents[2]!.parts[0]!.functionResponse).toMatchObject({ id: first.functionCalls![0]!.id });
  });

  it('gemini-3: answers 400 INVALID_ARGUMENT when the signature is stripped (parts rebuilt from functionCalls)', async () => {
    emulator.script([
      { functionCalls: [{ name: 'list_tables', args: { baseId: 'appA' } }] },
      { text: 'never used' },
    ]);
    const client = clientFor(emulator);
    const user: Content = { role: 'user', parts: [{ text: 'tables?' }] };
    const first = await client.models.generateContent({
      model: GEMINI_3,
      contents: [user],
      config: { tools },
    });
    const call = first.functionCalls![0]!;
    const rebuilt: Content = { role: 'model', parts: [createPartFromFunctionCall(call.name!, call.args!)] };
    const responses: Content = {
      role: 'user',
      parts: [createPartFromFunctionResponse(call.id!, call.name!, { output: [] })],
    };
    const { error, body } = await apiErrorOf(
      client.models.generateContent({
        model: GEMINI_3,
        contents: [user, rebuilt, responses],
        config: { tools },
      }),
    );
    expect(error.status).toBe(400);
    expect(body.error.status).toBe('INVALID_ARGUMENT');
    expect(body.error.message.startsWith(THOUGHT_SIGNATURE_MESSAGE)).toBe(true);
    expect(body.error.message).toContain('function call `default_api:list_tables` , position 2');
    // A refused request does not use up the script.
    expect(emulator.pendingScript()).toEqual({ '': 1 });
  });

  it('gemini-3: validates only the current turn (since the latest user text)', async () => {
    const client = clientFor(emulator);
    const oldTurn: Content[] = [
      { role: 'user', parts: [{ text: 'earlier question' }] },
      { role: 'model', parts: [{ functionCall: { name: 'list_tables', args: {} } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'list_tables', response: { output: [] } } }] },
      { role: 'model', parts: [{ text: 'No tables.' }] },
    ];
    const response = await client.models.generateContent({
      model: GEMINI_3,
      contents: [...oldTurn, { role: 'user', parts: [{ text: 'thanks' }] }],
    });
    expect(response.text).toBe('You said: "thanks"');
  });

  it('needs one function response per call of the turn before', async () => {
    const { error, body } = await apiErrorOf(
      clientFor(emulator).models.generateContent({
        model: FLASH,
        contents: [
          { role: 'user', parts: [{ text: 'q' }] },
          {
            role: 'model',
            parts: [{ functionCall: { name: 'a', args: {} } }, { functionCall: { name: 'b', args: {} } }],
          },
          { role: 'user', parts: [{ functionResponse: { name: 'a', response: { output: 1 } } }] },
        ],
      }),
    );
    expect(error.status).toBe(400);
    expect(body.error.message).toBe(
      'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.',
    );
  });

  it('keeps signatures through the SDK chat (curated history replays the raw Content)', async () => {
    emulator.script([
      { functionCalls: [{ name: 'list_tables', args: { baseId: 'appA' } }] },
      { text: 'Done.' },
    ]);
    const chat = clientFor(emulator).chats.create({ model: GEMINI_3, config: { tools } });
    const first = await chat.sendMessage({ message: 'tables?' });
    const call = first.functionCalls![0]!;
    const second = await chat.sendMessage({
      message: [createPartFromFunctionResponse(call.id!, call.name!, { output: ['Tasks'] })],
    });
    expect(second.text).toBe('Done.');
  });

  it('thoughtSignatures can be configured per model prefix', async () => {
    const other = await startGeminiEmulator({ thinkingModels: ['gemini-2.5'] });
    try {
      other.script([
        { functionCalls: [{ name: 'list_tables' }] },
        { functionCalls: [{ name: 'list_tables' }] },
      ]);
      const client = clientFor(other);
      const flash = await client.models.generateContent({ model: FLASH, contents: 'x' });
      expect(flash.candidates?.[0]?.content?.parts?.[0]?.thoughtSignature).toEqual(expect.any(String));
      const three = await client.models.generateContent({ model: GEMINI_3, contents: 'x' });
      expect(three.candidates?.[0]?.content?.parts?.[0]?.thoughtSignature).toBeUndefined();
    } finally {
      await other.close();
    }
  });
});
