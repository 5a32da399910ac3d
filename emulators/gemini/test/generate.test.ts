import type { Schema } from '@google/genai';
import { startGeminiEmulator, type GeminiEmulator, type GoogleErrorBody } from '../src';
import { apiErrorOf, clientFor, FLASH, GEMINI_3, post } from './helpers';

describe('generateContent through @google/genai', () => {
  let emulator: GeminiEmulator;
  beforeAll(async () => {
    emulator = await startGeminiEmulator();
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.reset());

  it('answers text with usageMetadata, modelVersion, responseId and finishReason', async () => {
    emulator.script([{ text: 'Hello from the script.' }]);
    const response = await clientFor(emulator).models.generateContent({
      model: FLASH,
      contents: 'Say hello',
      config: { systemInstruction: 'Be brief.', temperature: 0.2, maxOutputTokens: 100 },
    });
    expect(response.text).toBe('Hello from the script.');
    expect(response.candidates?.[0]?.finishReason).toBe('STOP');
    expect(response.modelVersion).toBe(FLASH);
    expect(response.responseId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const usage = response.usageMetadata!;
    // "Say hello" + "Be brief." = 18 characters → 5 tokens; the answer: 22 characters → 6 tokens.
    expect(usage.promptTokenCount).toBe(5);
    expect(usage.candidatesTokenCount).toBe(6);
    expect(usage.thoughtsTokenCount).toBeUndefined();
    expect(usage.totalTokenCount).toBe(11);

    // The request as the SDK sent it: config split into systemInstruction and generationConfig.
    const [entry] = emulator.requests();
    expect(entry).toMatchObject({
      method: 'POST',
      path: `/v1beta/models/${FLASH}:generateContent`,
      model: FLASH,
      stream: false,
      status: 200,
      answeredBy: 'script',
      body: {
        contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }],
        systemInstruction: { parts: [{ text: 'Be brief.' }], role: 'user' },
        generationConfig: { temperature: 0.2, maxOutputTokens: 100 },
      },
    });
  });

  it('reports thinking tokens for gemini-3 models, and lets a script set the counts', async () => {
    emulator.script([
      { text: 'ok' },
      { text: 'ok', usageMetadata: { promptTokenCount: 1000, candidatesTokenCount: 10 } },
    ]);
    const client = clientFor(emulator);
    const first = await client.models.generateContent({ model: GEMINI_3, contents: 'hi' });
    expect(first.usageMetadata).toMatchObject({
      promptTokenCount: 1,
      candidatesTokenCount: 1,
      thoughtsTokenCount: 34,
    });
    expect(first.usageMetadata?.totalTokenCount).toBe(36);
    // A thinking model signs its last text part too; the SDK's .text ignores the signature.
    expect(first.candidates?.[0]?.content?.parts?.[0]?.thoughtSignature).toEqual(expect.any(String));
    expect(first.text).toBe('ok');
    const second = await client.models.generateContent({ model: FLASH, contents: 'hi' });
    expect(second.usageMetadata).toMatchObject({
      promptTokenCount: 1000,
      candidatesTokenCount: 10,
      totalTokenCount: 1010,
    });
  });

  it('echoes deterministically without a script', async () => {
    const client = clientFor(emulator);
    const a = await client.models.generateContent({ model: FLASH, contents: 'What is 2+2?' });
    const b = await client.models.generateContent({ model: FLASH, contents: 'What is 2+2?' });
    expect(a.text).toBe('You said: "What is 2+2?"');
    expect(b.text).toBe(a.text);
    expect(emulator.requests().map((r) => r.answeredBy)).toEqual(['assistant', 'assistant']);
  });

  it('answers 404 NOT_FOUND for an unknown model', async () => {
    const { error, body } = await apiErrorOf(
      clientFor(emulator).models.generateContent({ model: 'gemini-0-nope', contents: 'hi' }),
    );
    expect(error.status).toBe(404);
    expect(body.error).toMatchObject({ code: 404, status: 'NOT_FOUND' });
    expect(body.error.message).toContain('models/gemini-0-nope is not found');
  });

  it('accepts the key as ?key= and refuses bad bodies with 400 INVALID_ARGUMENT', async () => {
    const ok = await post(
      emulator,
      `/v1beta/models/${FLASH}:generateContent?key=${emulator.key}`,
      {
        contents: [{ parts: [{ text: 'hi' }] }],
      },
      {},
    );
    expect(ok.status).toBe(200);
    expect(emulator.requests()[0]!.path).toBe(`/v1beta/models/${FLASH}:generateContent?key=REDACTED`);

    const cases: Array<[unknown, string]> = [
      ['{not json', 'Invalid JSON payload received'],
      [{}, 'contents is not specified'],
      [{ contents: [{ role: 'user', parts: [] }] }, 'contents.parts must not be empty'],
      [
        { contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] },
        'Please use a valid role: user, model.',
      ],
      [{ contents: [{ parts: [{}] }] }, "required oneof field 'data'"],
      [{ content: [{ parts: [{ text: 'x' }] }] }, 'Unknown name "content": Cannot find field.'],
      [
        { contents: [{ parts: [{ text: 'x' }] }], generationConfig: { temperature: 3 } },
        'generation_config.temperature: must be in [0, 2]',
      ],
    ];
    for (const [body, message] of cases) {
      const answer = await post(emulator, `/v1beta/models/${FLASH}:generateContent`, body);
      expect(answer.status).toBe(400);
      const error = ((await answer.json()) as GoogleErrorBody).error;
      expect(error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
      expect(error.message).toContain(message);
    }
  });

  it('refuses additionalProperties and $schema in `parameters` (OpenAPI Schema) with 400, as Google does', async () => {
    const answer = await post(emulator, `/v1beta/models/${FLASH}:generateContent`, {
      contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
      tools: [
        {
          functionDeclarations: [
            {
              name: 'list_records',
              parameters: {
                type: 'OBJECT',
                $schema: 'http://json-schema.org/draft-07/schema#',
                properties: {
                  baseId: { type: 'STRING' },
                  filter: { type: 'OBJECT', additionalProperties: false, properties: {} },
                },
              },
            },
          ],
        },
      ],
    });
    expect(answer.status).toBe(400);
    const error = ((await answer.json()) as GoogleErrorBody).error;
    expect(error.status).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(
      [
        `Invalid JSON payload received. Unknown name "$schema" at 'tools[0].function_declarations[0].parameters': Cannot find field.`,
        `Invalid JSON payload received. Unknown name "additionalProperties" at 'tools[0].function_declarations[0].parameters.properties[1].value': Cannot find field.`,
      ].join('\n'),
    );
    expect(error.details?.[0]).toMatchObject({ '@type': 'type.googleapis.com/google.rpc.BadRequest' });
  });

  it('accepts plain JSON Schema in parametersJsonSchema (and the SDK strips additionalProperties from `parameters`)', async () => {
    const client = clientFor(emulator);
    const jsonSchema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { baseId: { type: 'string' } },
      required: ['baseId'],
      additionalProperties: false,
    };
    await client.models.generateContent({
      model: FLASH,
      contents: 'hi',
      config: {
        tools: [{ functionDeclarations: [{ name: 'list_tables', parametersJsonSchema: jsonSchema }] }],
      },
    });
    // Through the SDK, `parameters` never reaches the wire with additionalProperties: tTool() drops it,
    // and a top-level $schema moves the whole schema to parametersJsonSchema.
    // (Typed loosely on purpose: callers hand the SDK JSON Schema from zod or MCP servers.)
    const parameters = {
      type: 'object',
      properties: { q: { type: 'string' } },
      additionalProperties: false,
    } as unknown as Schema;
    await client.models.generateContent({
      model: FLASH,
      contents: 'hi',
      config: {
        tools: [
          {
            functionDeclarations: [
              { name: 'search', parameters },
              { name: 'other', parameters: { ...jsonSchema } as unknown as Schema },
            ],
          },
        ],
      },
    });
    const [first, second] = emulator.requests();
    expect(first!.status).toBe(200);
    expect(second!.status).toBe(200);
    const sent = (second!.body as { tools: Array<{ functionDeclarations: unknown[] }> }).tools[0]!
      .functionDeclarations;
    expect(sent[0]).toEqual({
      name: 'search',
      parameters: { type: 'OBJECT', properties: { q: { type: 'STRING' } } },
    });
    expect(sent[1]).toEqual({ name: 'other', parametersJsonSchema: jsonSchema });
  });

  it('counts tokens, lists and gets models', async () => {
    const client = clientFor(emulator);
    const count = await client.models.countTokens({ model: FLASH, contents: 'twelve chars' });
    expect(count.totalTokens).toBe(3);
    const model = await client.models.get({ model: GEMINI_3 });
    expect(model.name).toBe(`models/${GEMINI_3}`);
    const listed = await fetch(`${emulator.url}/v1beta/models`, {
      headers: { 'x-goog-api-key': emulator.key },
    });
    expect(((await listed.json()) as { models: unknown[] }).models.length).toBe(emulator.models.length);
  });
});
