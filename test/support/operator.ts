// Keyward's controllers run inside the test process against the local control plane, with a clock the test moves
// forward, so that days of pending destruction or months of rotation take no time.
import { addKeywardControllers } from '../../src/controllers/keyward.ts';
import { createLogger } from '../../src/log.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { OperatorMetrics } from '../../src/metrics/registry.ts';
import type { Clock } from '../../src/runtime/clock.ts';
import { Manager } from '../../src/runtime/manager.ts';
import { appendFileSync, writeFileSync } from 'node:fs';
import { captureFile } from './test-secrets.ts';

export class TestClock implements Clock {
  #offsetMs = 0;
  now(): number {
    return Date.now() + this.#offsetMs;
  }
  advance(ms: number): void {
    this.#offsetMs += ms;
  }
}

export interface TestOperator {
  manager: Manager;
  clock: TestClock;
  /** Every log line the operator wrote, as JSON text. */
  logs: string[];
  stop(): Promise<void>;
}

/** `watchNamespace` limits the ManagedKeys the operator sees to one namespace, as --watch-namespace does. */
export async function startTestOperator(client: KubeClient, watchNamespace?: string): Promise<TestOperator> {
  const logs: string[] = [];
  const logFile = captureFile('operator-log', 'jsonl');
  const clock = new TestClock();
  // No leader election (the Manager's default): one operator at a time, in the test process, which bench/ stops and
  // starts again at once; it would only wait on its own Lease.
  const manager = new Manager({
    client,
    clock,
    log: createLogger({
      level: 'debug',
      write: (line) => {
        logs.push(line);
        appendFileSync(logFile, `${line}\n`, { mode: 0o600 });
      },
    }),
    metrics: new OperatorMetrics({ processMetrics: false }),
    gracefulShutdownTimeoutMs: 5_000,
    watchNamespace,
  });
  addKeywardControllers(manager, { perKeyMetrics: true });
  manager.start();
  for (let i = 0; !manager.ready; i++) {
    if (i > 300) throw new Error('the operator caches did not sync within 30s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    manager,
    clock,
    logs,
    stop: async () => {
      // What a scrape would have shown at the end, for the leak scan.
      writeFileSync(captureFile('operator-metrics', 'prom'), (await manager.metrics.exposition()).body, {
        mode: 0o600,
      });
      await manager.stop();
    },
  };
}

export { eventually } from './eventually.ts';
