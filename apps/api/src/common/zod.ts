import { type ArgumentMetadata, Body, type PipeTransform, Query } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiQuery } from '@nestjs/swagger';
import { fieldErrors } from '@toolgate/contracts';
import { z } from 'zod';
import { type FieldError, Problem } from './problem';

/** Issues as problem-JSON field errors; the formatting lives in contracts so the dashboard shows the same. */
export function zodIssues(error: z.ZodError, prefix = ''): FieldError[] {
  return fieldErrors(error, prefix);
}

/** Validates (and transforms) input with a zod schema; failures are 400 problems listing every issue. */
export class ZodPipe<T extends z.ZodType> implements PipeTransform {
  constructor(
    private readonly schema: T,
    private readonly where: 'body' | 'query' = 'body',
  ) {}

  transform(value: unknown, _meta: ArgumentMetadata): z.output<T> {
    if (this.where === 'body' && (value === undefined || value === null || typeof value !== 'object')) {
      value = value ?? {};
    }
    const parsed = this.schema.safeParse(value);
    if (!parsed.success) throw Problem.validation(zodIssues(parsed.error, this.where === 'query' ? 'query' : ''));
    return parsed.data;
  }
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  try {
    return z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  } catch {
    return { type: 'object' };
  }
}

/**
 * DTOs are zod schemas whose inferred type shares the schema's name, so decorator metadata
 * records the schema object as the parameter's "class". Swagger would try to introspect it; the
 * real shape is documented from the schema instead, so the recorded type becomes Object.
 */
function eraseParamType(target: object, key: string | symbol, index: number): void {
  const types = Reflect.getMetadata('design:paramtypes', target, key) as unknown[] | undefined;
  if (types && index < types.length) {
    const copy = [...types];
    copy[index] = Object;
    Reflect.defineMetadata('design:paramtypes', copy, target, key);
  }
}

/**
 * `@ZBody(Schema) body: z.output<typeof Schema>`: validates the body with the zod schema and
 * documents it in the OpenAPI spec from the same schema.
 */
export const ZBody =
  (schema: z.ZodType): ParameterDecorator =>
  (target, key, index) => {
    Body(new ZodPipe(schema, 'body'))(target, key, index);
    if (key) eraseParamType(target, key, index);
    const descriptor = key ? Object.getOwnPropertyDescriptor(target, key) : undefined;
    if (key && descriptor) ApiBody({ schema: jsonSchema(schema) as never })(target, key, descriptor);
  };

export const ZQuery =
  (schema: z.ZodType): ParameterDecorator =>
  (target, key, index) => {
    Query(new ZodPipe(schema, 'query'))(target, key, index);
    if (key) eraseParamType(target, key, index);
    const descriptor = key ? Object.getOwnPropertyDescriptor(target, key) : undefined;
    const props = (jsonSchema(schema).properties ?? {}) as Record<string, Record<string, unknown>>;
    if (key && descriptor) {
      for (const [name, s] of Object.entries(props)) ApiQuery({ name, required: false, schema: s as never })(target, key, descriptor);
    }
  };

/** Documents a handler's 200 response in the OpenAPI spec from the zod schema of its output. */
export const ZOk = (schema: z.ZodType): MethodDecorator => ApiOkResponse({ schema: jsonSchema(schema, 'output') as never });

/** Parse a payload we produced or stored; a failure here is our bug, so it is not a 400. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  return schema.parse(value);
}
