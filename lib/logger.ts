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
