/**
 * `kdflow codec-server`: decodes payloads for the Temporal Web UI and CLI with this machine's keys
 * (lib/codec-server.ts), until Ctrl-C or SIGTERM.
 */
import { codecFromEnv, KEY_FILE_ENV, KEYS_ENV } from '../../lib/codec.ts';
import { startCodecServer } from '../../lib/codec-server.ts';
import { logger } from '../../lib/logger.ts';
import { listenForStop } from '../../lib/stop.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import type { Flags } from '../main.ts';

export const DEFAULT_LISTEN = '127.0.0.1:8888';
/** The dev server's Web UI (npm start, npm run temporal:dev). */
export const DEFAULT_ORIGINS = ['http://127.0.0.1:8233', 'http://localhost:8233'];
export const TOKEN_ENV = 'KDFLOW_CODEC_SERVER_TOKEN';

export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535)
    throw new UsageError(`--listen: got "${value}"; expected HOST:PORT, such as ${DEFAULT_LISTEN}`);
  return { host: (match[1] ?? match[2]) as string, port };
}

export function parseOrigins(value: string): string[] {
  return value.split(',').map((entry) => {
    const origin = entry.trim();
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin)
      throw new UsageError(
        `--origin: got "${origin}"; expected the Web UI's origin as the browser sends it, such as http://127.0.0.1:8233 (no path, no trailing slash)`,
      );
    return origin;
  });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export async function codecServerCommand(ctx: CliContext, _args: string[], flags: Flags): Promise<void> {
  const listen = parseListen(flags.listen ?? DEFAULT_LISTEN);
  const origins = flags.origin ? parseOrigins(flags.origin) : DEFAULT_ORIGINS;
  const codec = codecFromEnv();
  if (!codec.currentKeyId)
    throw new UsageError(`kdflow codec-server needs the payload keys: set ${KEY_FILE_ENV} or ${KEYS_ENV}`);
  const token = process.env[TOKEN_ENV] || undefined;
  if (!token && !LOOPBACK.has(listen.host))
    logger.warn(
      { host: listen.host },
      `the codec server decrypts for anyone who can reach it: set ${TOKEN_ENV} or listen on loopback`,
    );
  const stop = listenForStop({
    onForce: (signal) => logger.warn({ signal }, 'kdflow: stopped at once (second signal)'),
  });
  try {
    const server = await startCodecServer({ codec, ...listen, origins, ...(token ? { token } : {}), logger });
    try {
      ctx.out(
        `kdflow codec server on ${server.url} (keys ${codec.keyIds.join(', ')}; Web UI origins ${origins.join(', ')}${token ? '; bearer token required' : ''})`,
      );
      logger.info(
        { url: server.url, keyIds: codec.keyIds, origins, bearerToken: Boolean(token) },
        'codec server running',
      );
      await stop.stopped;
    } finally {
      await server.close();
    }
    logger.info({ signal: stop.requested }, 'kdflow: stopped');
  } finally {
    stop.dispose();
  }
}
