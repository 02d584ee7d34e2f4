/**
 * The anchor of the HTTP benchmark: a bare fastify server (no logger, no plugins, one route) that
 * answers every `GET /api/handles/*` with fixed bytes and content type, those Cairn served for the
 * benchmark handle. Run as a child process by run.ts:
 *
 *   node dist/tests/bench/bare-fastify.js BODY_FILE CONTENT_TYPE PORT
 *
 * Prints one JSON line `{"event":"ready","http":"http://127.0.0.1:PORT"}` once listening, and
 * closes on SIGTERM or SIGINT.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [bodyFile, contentType, portText = '0'] = process.argv.slice(2);
if (!bodyFile || !contentType || !/^\d{1,5}$/.test(portText)) {
  process.stderr.write('usage: bare-fastify BODY_FILE CONTENT_TYPE [PORT]\n');
  process.exit(64);
}

const body = readFileSync(bodyFile);
const app = Fastify({ logger: false });
app.get('/api/handles/*', (_req, reply) => reply.type(contentType).send(body));

await app.listen({ host: '127.0.0.1', port: Number(portText) });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : Number(portText);
process.stdout.write(`${JSON.stringify({ event: 'ready', http: `http://127.0.0.1:${port}` })}\n`);

const stop = (): void => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
