import { argumentsOf, formOf } from './schema-form';

describe('formOf', () => {
  it('makes one field per scalar or enum property, with required, description and default', () => {
    const fields = formOf({
      type: 'object',
      properties: {
        message: { type: 'string', description: 'What to echo' },
        a: { type: 'number', default: 2 },
        n: { type: ['integer', 'null'] },
        loud: { type: 'boolean' },
        level: { enum: ['debug', 'info'], title: 'Level' },
      },
      required: ['message', 'level'],
    });
    expect(fields).toEqual([
      { name: 'message', kind: 'string', required: true, description: 'What to echo', initial: '' },
      { name: 'a', kind: 'number', required: false, description: null, initial: '2' },
      { name: 'n', kind: 'integer', required: false, description: null, initial: '' },
      { name: 'loud', kind: 'boolean', required: false, description: null, initial: '' },
      { name: 'level', kind: 'enum', options: ['debug', 'info'], required: true, description: 'Level', initial: '' },
    ]);
  });

  it('has no fields for a schema without properties, and no form for what fields cannot express', () => {
    expect(formOf({ type: 'object' })).toEqual([]);
    expect(formOf(undefined)).toEqual([]);
    expect(formOf({ properties: { o: { type: 'object' } } })).toBeNull();
    expect(formOf({ properties: { l: { type: 'array' } } })).toBeNull();
    expect(formOf({ properties: { u: { anyOf: [{ type: 'string' }] } } })).toBeNull();
    expect(formOf({ properties: { t: { type: ['string', 'number'] } } })).toBeNull();
    expect(formOf({ properties: { e: { enum: [{ a: 1 }] } } })).toBeNull();
  });
});

describe('argumentsOf', () => {
  const fields = formOf({
    properties: {
      message: { type: 'string' },
      a: { type: 'number' },
      n: { type: 'integer' },
      loud: { type: 'boolean' },
      level: { enum: ['debug', 1, true] },
    },
    required: ['message', 'loud'],
  })!;

  it('converts typed text to the schema types and leaves empty optional fields out', () => {
    expect(argumentsOf(fields, { message: 'hi', a: '1.5', n: '3', loud: '', level: '1' })).toEqual({
      ok: true,
      arguments: { message: 'hi', a: 1.5, n: 3, loud: false, level: 1 },
    });
    expect(argumentsOf(fields, { message: ' ', loud: 'true', level: 'true' })).toEqual({
      ok: false,
      errors: { message: 'is required' },
    });
    expect(argumentsOf(fields, { message: 'x', loud: 'true', level: 'true' })).toEqual({
      ok: true,
      arguments: { message: 'x', loud: true, level: true },
    });
  });

  it('names each field it cannot convert', () => {
    expect(argumentsOf(fields, { a: 'abc', n: '1.5', level: 'warn' })).toEqual({
      ok: false,
      errors: { message: 'is required', a: 'must be a number', n: 'must be a whole number', level: 'must be one of debug, 1, true' },
    });
  });
});
