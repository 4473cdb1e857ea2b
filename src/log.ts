// Structured JSON logging: one JSON object per line on stderr, with a level, a timestamp, a message and
// context fields (controller, namespace, name, reconcileId, ...).
//
// Secret values must never be passed to a logger. As a second line of defence, fields whose name says they
// hold a secret are replaced by a marker, at any depth.

export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Receives each formatted line (without the newline). Defaults to stderr. */
  write?: (line: string) => void;
  now?: () => number;
}

const severity: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

const secretFieldNames = new Set([
  'pin',
  'sopin',
  'password',
  'passphrase',
  'secret',
  'token',
  'bearertoken',
  'share',
  'shares',
  'privatekey',
  'credential',
  'credentials',
  'apikey',
  'activationsecret',
]);

export const redactedMarker = '[REDACTED]';

export function isLogLevel(value: string): value is LogLevel {
  return (logLevels as readonly string[]).includes(value);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = severity[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = options.now ?? Date.now;

  const make = (bound: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (severity[level] < threshold) return;
      const record = { level, ts: new Date(now()).toISOString(), msg, ...bound, ...fields };
      write(JSON.stringify(sanitize(record, 0)));
    };
    return {
      debug: (msg, fields) => {
        emit('debug', msg, fields);
      },
      info: (msg, fields) => {
        emit('info', msg, fields);
      },
      warn: (msg, fields) => {
        emit('warn', msg, fields);
      },
      error: (msg, fields) => {
        emit('error', msg, fields);
      },
      child: (fields) => make({ ...bound, ...fields }),
      enabled: (level) => severity[level] >= threshold,
    };
  };
  return make({});
}

/** A logger that drops everything (for library code used without a logger, and for tests). */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => undefined });

/**
 * A one-line description of an error for logs and status messages: the message and, for network errors,
 * the cause (`fetch failed: connect ECONNREFUSED 127.0.0.1:6443`). Never includes request or response bodies.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  if (cause instanceof Error && cause.message && !err.message.includes(cause.message)) {
    return `${err.message}: ${cause.message}`;
  }
  return err.message;
}

const maxDepth = 8;

function sanitize(value: unknown, depth: number): unknown {
  if (value instanceof Error) return { error: describeError(value), type: value.name };
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : value;
  }
  if (depth >= maxDepth) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => sanitize(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = secretFieldNames.has(key.toLowerCase()) ? redactedMarker : sanitize(item, depth + 1);
  }
  return out;
}
