/** JSON schemas shared by routes; they document every status in the OpenAPI and never strip fields. */
export const handleError = {
  type: 'object',
  description: 'Handle.Net error: responseCode, message, handle',
  properties: { responseCode: { type: 'integer' }, message: { type: 'string' }, handle: { type: 'string' } },
  required: ['responseCode'],
  additionalProperties: true,
} as const;

export const problem = {
  type: 'object',
  description: 'RFC 9457 problem details with a stable code',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string' },
    detail: { type: 'string' },
    instance: { type: 'string' },
  },
  required: ['type', 'title', 'status', 'code'],
  additionalProperties: true,
} as const;

export const handleValue = {
  type: 'object',
  properties: {
    index: { type: 'integer' },
    type: { type: 'string' },
    data: { type: 'object', additionalProperties: true },
    permissions: { type: 'string' },
    ttl: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
    timestamp: { type: 'string' },
    references: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
  additionalProperties: true,
} as const;

export const handleRecord = {
  type: 'object',
  description: 'Handle.Net resolution response',
  properties: { responseCode: { type: 'integer' }, handle: { type: 'string' }, values: { type: 'array', items: handleValue } },
  additionalProperties: true,
} as const;

export const handleAck = {
  type: 'object',
  properties: { responseCode: { type: 'integer' }, handle: { type: 'string' } },
  additionalProperties: true,
} as const;

/** The same error schema for each listed status. */
export function errorsFor(schema: object, ...statuses: number[]): Record<number, object> {
  return Object.fromEntries(statuses.map((s) => [s, schema]));
}
