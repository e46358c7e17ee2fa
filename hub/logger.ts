// Structured logs (pino) without patient data: request lines carry the path but never the query string
// (searches hold names, birth dates, identifiers), bodies are never logged, and known sensitive keys are
// redacted wherever they appear.
import pino, { type Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.token',
  '*.password',
  '*.name',
  '*.family',
  '*.given',
  '*.birthDate',
  '*.identifier',
  '*.address',
  '*.telecom',
  '*.patient',
  '*.body',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'keney-hub' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: {
        req(request: { method?: string; url?: string; id?: string; ip?: string }) {
          return { id: request.id, method: request.method, path: request.url?.split('?')[0], ip: request.ip };
        },
        res(reply: { statusCode?: number }) {
          return { statusCode: reply.statusCode };
        },
        err: pino.stdSerializers.err,
      },
    },
    destination,
  );
}
