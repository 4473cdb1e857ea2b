// Runs test/chart/kstatus (sigs.k8s.io/cli-utils' kstatus, what Flux's health checks compute) on objects.
import { execFile } from 'node:child_process';

export interface KStatus {
  status: 'Current' | 'InProgress' | 'Failed' | 'Terminating' | 'NotFound' | 'Unknown';
  message: string;
}

export function kstatus(binary: string, objects: readonly unknown[]): Promise<KStatus[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(binary, [], (error, stdout, stderr) => {
      if (error) reject(new Error(`kstatus: ${stderr || error.message}`));
      else resolve(JSON.parse(stdout) as KStatus[]);
    });
    child.stdin?.end(JSON.stringify(objects));
  });
}
