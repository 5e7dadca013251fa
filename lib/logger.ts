import { fchmodSync, openSync } from 'node:fs';
import { pino, type Logger } from 'pino';

/** Keys whose values never reach a log line. Env values are redacted because users put secrets there. */
export const REDACT_PATHS = [
  // pino's "*" is exactly one level: top-level keys need their own paths.
  'password',
  'token',
  'apiKey',
  'secret',
  '*.password',
  '*.token',
  '*.apiKey',
  '*.secret',
  'env[*].value',
  '*.env[*].value',
  '*.*.env[*].value',
  'spec.roles[*].env[*].value',
  '*.spec.roles[*].env[*].value',
  '*.*.spec.roles[*].env[*].value',
  'headers.authorization',
  '*.headers.authorization',
];

/** The one logger. JSON to stderr, so stdout stays for command output. */
export const logger: Logger = pino(
  {
    name: 'kdflow',
    level: process.env.KDFLOW_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  },
  pino.destination(2),
);

/**
 * Opens a log file for appending, readable by its owner only (0600, also when an older run left it
 * 0644): logs hold script output and the names of everything kdflow runs. Returns the descriptor.
 */
export function openPrivateLog(file: string): number {
  const fd = openSync(file, 'a', 0o600);
  fchmodSync(fd, 0o600);
  return fd;
}

/** The same logger writing JSON lines to a private file, for when the terminal is for something else. */
export function fileLogger(file: string): Logger {
  return pino(
    { name: 'kdflow', redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    pino.destination({ fd: openPrivateLog(file), sync: false }),
  );
}
