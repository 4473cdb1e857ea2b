// Failpoints: named places where a test can make the operator die as kill -9 would, to prove that a crash there
// loses nothing and duplicates nothing. Armed only through KEYWARD_FAILPOINTS (a comma-separated list of names).
const armed = new Set((process.env['KEYWARD_FAILPOINTS'] ?? '').split(',').filter((name) => name !== ''));

export function failpoint(name: string): void {
  if (!armed.has(name)) return;
  process.stderr.write(`keyward: failpoint ${name} reached, killing the process\n`);
  process.kill(process.pid, 'SIGKILL');
}
