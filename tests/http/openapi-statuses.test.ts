import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';

/**
 * Every operation that authenticates can be refused by the failed-login limiter (429
 * ERR_AUTH_RATE_LIMITED), so its OpenAPI description must say so next to its 401.
 */
// Ending a session checks only that the session exists: no credentials are tried, so no 429.
const NO_LOGIN = new Set(['DELETE /api/sessions/this']);

describe('OpenAPI: the statuses an authenticating route can answer', () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService();
  });
  afterAll(async () => {
    await t.close();
  });

  it('declares 429 wherever it declares 401', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
    };
    const authenticating: string[] = [];
    const missing: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const statuses = Object.keys(operation.responses ?? {});
        if (!statuses.includes('401')) continue;
        authenticating.push(`${method.toUpperCase()} ${path}`);
        if (!statuses.includes('429') && !NO_LOGIN.has(`${method.toUpperCase()} ${path}`)) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(authenticating.length).toBeGreaterThan(10);
    expect(missing).toEqual([]);
  });
});
