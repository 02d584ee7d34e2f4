import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CairnError, DoipRequestInvalid } from '../../errors.js';
import { DOIP_OPS, DOIP_STATUS, canonicalOperation, requestFromJson, statusForError, type DoipRequest } from '../../doip/message.js';
import { objectToJson } from '../../doip/objects.js';
import { doipFor, type Outcome } from '../../doip/operations.js';
import { parseJsonBody } from '../../records/strict-json.js';
import type { Service } from '../../service/bootstrap.js';
import { isLoopback, requirePrincipal } from '../auth.js';
import { sendError, toCairnError } from '../problem.js';

type Query = Record<string, string | string[] | undefined>;

const last = (q: Query, ...names: string[]): string | undefined => {
  for (const name of names) {
    const v = q[name];
    const s = Array.isArray(v) ? v.at(-1) : v;
    if (s !== undefined) return s;
  }
  return undefined;
};

const READ_ONLY = new Set<string>([DOIP_OPS.hello, DOIP_OPS.retrieve, DOIP_OPS.search, DOIP_OPS.listOperations]);

/**
 * The request from Cordra's mapping: `operationId` (or `o`), `targetId` (or `t`), `clientId`,
 * `requestId`, `attributes` (a JSON object) and `attributes.NAME=value` in the query string, the
 * input as the JSON body. Without `operationId` in the query, the body is a whole DOIP request
 * (`{"targetId", "operationId", "attributes", "authentication", "input", ...}`).
 */
function requestOf(req: FastifyRequest): DoipRequest {
  const q = (req.query ?? {}) as Query;
  const operationId = last(q, 'operationId', 'o');
  if (operationId === undefined) {
    if (req.body === undefined) throw new DoipRequestInvalid('Name the operation: /doip?operationId=...&targetId=..., or POST a whole DOIP request as JSON');
    return requestFromJson(req.body);
  }
  let attributes: Record<string, unknown> = {};
  const attributesText = last(q, 'attributes');
  if (attributesText !== undefined) {
    let parsed: unknown;
    try {
      parsed = parseJsonBody(attributesText);
    } catch (e) {
      throw new DoipRequestInvalid(`The attributes parameter is not JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new DoipRequestInvalid('The attributes parameter must be a JSON object');
    attributes = { ...(parsed as Record<string, unknown>) };
  }
  for (const name of Object.keys(q)) {
    if (!name.startsWith('attributes.')) continue;
    const key = name.slice('attributes.'.length);
    if (key === '' || key === '__proto__' || key === 'constructor' || key === 'prototype') throw new DoipRequestInvalid(`Query parameter ${name} is not an attribute name`);
    attributes[key] = last(q, name);
  }
  const json: Record<string, unknown> = { operationId, targetId: last(q, 'targetId', 't'), attributes };
  const clientId = last(q, 'clientId');
  if (clientId !== undefined) json.clientId = clientId;
  const requestId = last(q, 'requestId');
  if (requestId !== undefined) json.requestId = requestId;
  if (req.body !== undefined) json.input = req.body;
  return requestFromJson(json);
}

/** Only a plain media type is echoed; anything else is served as bytes. */
function mediaType(type: string | undefined): string {
  return type !== undefined && /^[a-z0-9][\w.+-]{0,63}\/[a-z0-9][\w.+-]{0,63}$/i.test(type) ? type : 'application/octet-stream';
}

function render(reply: FastifyReply, outcome: Outcome): FastifyReply {
  switch (outcome.kind) {
    case 'json':
      return outcome.output === undefined ? reply.code(204).send() : reply.type('application/json').send(outcome.output);
    case 'element':
      // Stored bytes under this origin: never sniffed, never run as a page.
      return reply
        .type(mediaType(outcome.element.type))
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "sandbox; default-src 'none'")
        .send(outcome.element.data ?? Buffer.alloc(0));
    case 'object-with-data':
      return reply.type('application/json').send(objectToJson(outcome.object, true));
  }
}

/**
 * `/doip`: the DOIP operations over HTTP, Cordra's mapping. The answer's body is the operation's
 * output (JSON; an element's bytes for `Op.Retrieve` with `element`; element bytes as Base64 `data`
 * with `includeElementData`), the HTTP status follows the DOIP status, and the `Doip-Response`
 * header carries `{"status", "requestId"}`. Errors are problem+json with a stable `code`.
 * Credentials: HTTP Basic as on the Handle REST API, or `authentication` in a whole-request body;
 * both only over TLS or from loopback.
 */
export function doipRoutes(app: FastifyInstance, service: Service): void {
  const doip = doipFor(service);
  void app.register(async (scope) => {
    // As everywhere, only strict JSON bodies; here an empty body is no input rather than an error.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, (body as string).trim() === '' ? undefined : parseJsonBody(body as string));
      } catch (e) {
        done(e as Error, undefined);
      }
    });
    scope.route({
      method: ['GET', 'POST'],
      url: '/doip',
      schema: {
        summary: 'DOIP v2.0 over HTTP (Cordra mapping): /doip?operationId=0.DOIP/Op.Retrieve&targetId=20.5000/x',
        tags: ['doip'],
        querystring: {
          type: 'object',
          properties: {
            operationId: { type: 'string' },
            targetId: { type: 'string' },
            clientId: { type: 'string' },
            requestId: { type: 'string' },
            attributes: { type: 'string', description: 'a JSON object' },
          },
        },
      },
      handler: async (req, reply) => {
        let requestId: string | undefined;
        try {
          const request = requestOf(req);
          requestId = request.requestId;
          const op = canonicalOperation(request.operationId);
          if (req.method === 'GET' && op !== undefined && !READ_ONLY.has(op)) {
            throw new DoipRequestInvalid(`${request.operationId} changes objects: send it with POST`);
          }
          const principal = req.headers.authorization ? await requirePrincipal(req, service.handles) : undefined;
          const credentialsAllowed = req.protocol === 'https' || isLoopback(req.socket.remoteAddress);
          const outcome = await doip.execute(request, { credentialsAllowed, address: req.ip, ...(principal ? { principal } : {}) });
          reply.header('doip-response', JSON.stringify({ status: DOIP_STATUS.success, ...(requestId !== undefined ? { requestId } : {}) }));
          return render(reply, outcome);
        } catch (e) {
          if (!(e instanceof CairnError)) req.log.error({ err: e }, 'DOIP request failed');
          const error = toCairnError(e);
          reply.header('doip-response', JSON.stringify({ status: statusForError(error.code), ...(requestId !== undefined ? { requestId } : {}) }));
          const retryAfter = error.code === 'ERR_AUTH_RATE_LIMITED' ? error.details?.retryAfterSeconds : undefined;
          if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
          return sendError(req, reply, error);
        }
      },
    });
  });
}
