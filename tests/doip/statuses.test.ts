import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answer } from '../../src/doip/listener.js';
import { DOIP_STATUS, statusForError } from '../../src/doip/message.js';
import { DoipService, doipFor } from '../../src/doip/operations.js';
import { jsonSegment, type DoipSegment } from '../../src/doip/segments.js';
import { refuseDoipWrites } from '../../src/mirror/http.js';
import { ADMIN_IDENTITY, ADMIN_SECRET, adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * Every DOIP v2.0 status, each produced by a real request through `answer` (what the TLS listener
 * runs per message), with the stable code that rides in the output. The meanings are the DOIP v2.0
 * specification's (quoted in src/doip/message.ts `statusForError`).
 */

let t: TestService;
const admin = { clientId: ADMIN_IDENTITY, authentication: { password: ADMIN_SECRET } };
const bob = { clientId: '300:20.5000/bob', authentication: { password: 'bob-secret-12345' } };

async function run(doip: DoipService, request: Record<string, unknown>): Promise<{ status: string; code?: string }> {
  const [first] = await answer(doip, [jsonSegment(request)] as DoipSegment[], () => undefined, '127.0.0.1');
  const json = JSON.parse((first as { text: string }).text) as { status: string; output?: { code?: string } };
  return { status: json.status, ...(json.output?.code !== undefined ? { code: json.output.code } : {}) };
}

beforeAll(async () => {
  t = await startTestService();
  const put = (handle: string, values: unknown[]) =>
    t.app.inject({ method: 'PUT', url: `/api/handles/${handle}`, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(values) });
  expect((await put('20.5000/bob', [{ index: 300, type: 'HS_SECKEY', data: 'bob-secret-12345' }])).statusCode).toBe(201);
  expect((await run(doipFor(t.service), { ...admin, targetId: 'service', operationId: '0.DOIP/Op.Create', input: { id: '20.5000/do-1', type: 'Document' } })).status).toBe(DOIP_STATUS.success);
});
afterAll(async () => t.close());

describe('DOIP statuses, by status', () => {
  it.each([
    ['0.DOIP/Status.001', 'a Hello', { targetId: 'service', operationId: '0.DOIP/Op.Hello' }, undefined],
    ['0.DOIP/Status.001', 'a Retrieve', { targetId: '20.5000/do-1', operationId: '0.DOIP/Op.Retrieve' }, undefined],
    ['0.DOIP/Status.101', 'a request without targetId', { operationId: '0.DOIP/Op.Hello' }, 'ERR_DOIP_REQUEST_INVALID'],
    ['0.DOIP/Status.101', 'a Create without a type', { ...admin, targetId: 'service', operationId: '0.DOIP/Op.Create', input: { attributes: {} } }, 'ERR_DOIP_REQUEST_INVALID'],
    ['0.DOIP/Status.102', 'a write without credentials', { targetId: 'service', operationId: '0.DOIP/Op.Create', input: { type: 'T' } }, 'ERR_AUTH_REQUIRED'],
    ['0.DOIP/Status.102', 'a wrong password', { ...admin, authentication: { password: 'wrong-password' }, targetId: 'service', operationId: '0.DOIP/Op.Hello' }, 'ERR_AUTH_FAILED'],
    ['0.DOIP/Status.103', 'an authenticated identity without the right', { ...bob, targetId: '20.5000/do-1', operationId: '0.DOIP/Op.Delete' }, 'ERR_PERMISSION_DENIED'],
    ['0.DOIP/Status.104', 'an unknown object', { targetId: '20.5000/no-such-object', operationId: '0.DOIP/Op.Retrieve' }, 'ERR_HANDLE_NOT_FOUND'],
    ['0.DOIP/Status.104', 'a handle that is no digital object', { targetId: '20.5000/bob', operationId: '0.DOIP/Op.Retrieve' }, 'ERR_DOIP_NOT_AN_OBJECT'],
    ['0.DOIP/Status.105', 'a Create with an id in use', { ...admin, targetId: 'service', operationId: '0.DOIP/Op.Create', input: { id: '20.5000/do-1', type: 'Document' } }, 'ERR_HANDLE_EXISTS'],
    ['0.DOIP/Status.200', 'an extended operation Cairn lacks', { targetId: 'service', operationId: '20.5000/Op.Frobnicate' }, 'ERR_DOIP_OPERATION_UNKNOWN'],
  ])('%s for %s', async (status, _what, request, code) => {
    expect(await run(doipFor(t.service), request)).toEqual({ status, ...(code !== undefined ? { code } : {}) });
  });

  it('0.DOIP/Status.200 for a write to a read-only mirror, which the primary would execute', async () => {
    const doip = new DoipService(t.service);
    refuseDoipWrites(doip, 'http://primary.test');
    for (const operationId of ['0.DOIP/Op.Create', '0.DOIP/Op.Update', '0.DOIP/Op.Delete']) {
      expect(await run(doip, { ...admin, targetId: '20.5000/do-1', operationId }), operationId).toEqual({ status: '0.DOIP/Status.200', code: 'ERR_MIRROR_READ_ONLY' });
    }
    // Reads still run on the mirror.
    expect((await run(doip, { targetId: '20.5000/do-1', operationId: '0.DOIP/Op.Retrieve' })).status).toBe('0.DOIP/Status.001');
  });

  it('0.DOIP/Status.500 for a failure that is not the client\'s', async () => {
    const doip = new DoipService(t.service);
    doip.execute = () => Promise.reject(new Error('disk on fire'));
    expect(await run(doip, { targetId: 'service', operationId: '0.DOIP/Op.Hello' })).toEqual({ status: '0.DOIP/Status.500', code: 'ERR_INTERNAL' });
  });

  it.each([
    ['ERR_AUTH_SESSION_UNKNOWN', '0.DOIP/Status.102'],
    ['ERR_AUTH_SESSION_EXPIRED', '0.DOIP/Status.102'],
    ['ERR_AUTH_NONCE_USED', '0.DOIP/Status.102'],
    ['ERR_AUTH_INSECURE_TRANSPORT', '0.DOIP/Status.102'],
    ['ERR_AUTH_RATE_LIMITED', '0.DOIP/Status.102'],
    ['ERR_RECORD_PROTECTED', '0.DOIP/Status.103'],
    ['ERR_DOIP_ELEMENT_NOT_FOUND', '0.DOIP/Status.104'],
    ['ERR_MIRROR_READ_ONLY', '0.DOIP/Status.200'],
    ['ERR_AUTH_TYPE_UNSUPPORTED', '0.DOIP/Status.101'],
    ['ERR_DOIP_TIMEOUT', '0.DOIP/Status.101'],
    ['ERR_NOT_READY', '0.DOIP/Status.500'],
  ] as const)('maps %s (reached over /doip or the listener) to %s', (code, status) => {
    expect(statusForError(code)).toBe(status);
  });
});
