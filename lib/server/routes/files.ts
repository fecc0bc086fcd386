import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import type { AppState } from '../state';
import { HttpError, errorBody } from '../http';
import { loadAvatar, saveAvatar } from '../account';

/**
 * Why an upload could not be read, as an answer: too large 413; the plugin's own 4xx (too many
 * parts) as they are; else the parser's plain Error (no boundary, the body cut short): the
 * client's fault, 400, where it used to be a 500.
 */
function unreadable(error: unknown, max: number): unknown {
  if (error instanceof HttpError) return error;
  const e = error as { code?: string; statusCode?: number };
  if (e.code === 'FST_REQ_FILE_TOO_LARGE') return new HttpError(413, errorBody(413, `The avatar is too large: at most ${max} bytes`));
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return error;
  return new HttpError(400, errorBody(400, 'The multipart body could not be read (no boundary, or cut short)'));
}

/** POST /api/files/images/avatar (multipart, field "file") and the images at /avatars/<id>-<random>.<ext>. */
export function fileRoutes(app: FastifyInstance, state: AppState): void {
  const max = state.config.serve.avatarMaxBytes;
  void app.register(multipart, {
    limits: { fileSize: max, files: 1, fields: 10, parts: 20, fieldSize: 1024 },
  });

  app.post('/api/files/images/avatar', { onRequest: state.requireAuth, config: { bodyTypes: ['multipart/form-data'] } }, async (request) => {
    if (!request.isMultipart()) {
      throw new HttpError(400, errorBody(400, 'Send the image as multipart/form-data, in a field named "file"'));
    }
    let data: Buffer;
    try {
      const file = await request.file();
      if (!file || file.fieldname !== 'file') throw new HttpError(400, errorBody(400, 'Send the image as multipart/form-data, in a field named "file"'));
      data = await file.toBuffer();
    } catch (error) {
      throw unreadable(error, max);
    }
    if (data.length === 0) throw new HttpError(400, errorBody(400, 'The avatar file is empty'));
    const { url } = await saveAvatar(await state.lib(request), request.auth!.user, data).catch((error: unknown) => {
      if ((error as Error).name === 'UsageError') throw new HttpError(415, errorBody(415, (error as Error).message));
      throw error;
    });
    // The image lives in the database; the path below serves it, so filepath and url agree.
    return { url, filepath: url };
  });

  app.get<{ Params: { file: string } }>('/avatars/:file', async (request, reply) => {
    const avatar = await loadAvatar({ db: await state.db(request) }, request.params.file);
    return reply
      .header('content-type', avatar.type)
      .header('cache-control', 'public, max-age=300')
      .header('content-security-policy', "default-src 'none'")
      .header('last-modified', avatar.updatedAt.toUTCString())
      .send(avatar.data);
  });
}
