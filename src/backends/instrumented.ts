// Wraps a backend so that every call is timed and every failure counted, under one set of metric names whatever
// the backend: keyward_backend_request_duration_seconds and keyward_backend_errors_total.
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { KeyBackend } from './backend.ts';
import { isBackendError } from './errors.ts';
import { wrapBackend } from './wrap.ts';

export class BackendMetrics {
  readonly #duration: Histogram<'backend_type' | 'operation' | 'outcome'>;
  readonly #errors: Counter<'backend_type' | 'operation' | 'code'>;

  constructor(registry: Registry) {
    this.#duration = new Histogram({
      name: 'keyward_backend_request_duration_seconds',
      help: 'Duration of requests to key backends, by backend type, operation and outcome (success or error).',
      labelNames: ['backend_type', 'operation', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.#errors = new Counter({
      name: 'keyward_backend_errors_total',
      help: 'Failed requests to key backends, by backend type, operation and error code.',
      labelNames: ['backend_type', 'operation', 'code'],
      registers: [registry],
    });
  }

  /** The same backend, with each operation measured. */
  instrument(backend: KeyBackend): KeyBackend {
    return wrapBackend(backend, async (operation, args, call) => {
      const end = this.#duration.startTimer({ backend_type: backend.type, operation });
      try {
        const result = await call(args);
        end({ outcome: 'success' });
        return result;
      } catch (error) {
        end({ outcome: 'error' });
        const code = isBackendError(error) ? error.code : 'Unknown';
        this.#errors.inc({ backend_type: backend.type, operation, code });
        throw error;
      }
    });
  }
}
