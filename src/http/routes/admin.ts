import type { FastifyInstance } from 'fastify';
import { PermissionDenied } from '../../errors.js';
import { backupStream } from '../../ops/backup.js';
import type { Service } from '../../service/bootstrap.js';
import { requirePrincipal } from '../auth.js';
import { errorsFor, problem } from '../schemas.js';

/**
 * Operations on the running service, for its admin. `POST /api/admin/backup` answers the backup
 * file (src/ops/backup-format.ts: gzip-compressed NDJSON from one LevelDB snapshot, sealed with the
 * signing key) while the service keeps serving; `cairn backup` calls it when the server holds the
 * data directory. A POST, not a GET: it is not a cacheable resource, and it takes credentials.
 */
export function adminRoutes(app: FastifyInstance, service: Service): void {
  app.post(
    '/api/admin/backup',
    {
      schema: {
        summary: 'A consistent backup of the whole store (service admin only; HTTP Basic or a Handle session, over TLS or from loopback)',
        tags: ['operations'],
        response: { 200: { type: 'string', format: 'binary', description: 'application/gzip: the backup file' }, ...errorsFor(problem, 400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      const who = await requirePrincipal(req, service.handles);
      if (!who.serverAdmin) throw new PermissionDenied('Only the service admin may take a backup');
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      req.log.info({ event: 'backup', changeLog: service.store.lastSeq }, 'backup started');
      return reply
        .header('content-type', 'application/gzip')
        .header('content-disposition', `attachment; filename="cairn-${service.config.prefix}-${stamp}.ndjson.gz"`)
        .header('cache-control', 'no-store')
        .send(
          backupStream(service.store, service.signer, { prefix: service.config.prefix, source: 'server' }, (err) =>
            req.log.error({ err, event: 'backup' }, 'backup failed midway'),
          ),
        );
    },
  );
}
