// kubectl-keyward: the kubectl plugin for custodians, witnesses and operators (`kubectl keyward ...`).
import { parseArgs } from 'node:util';
import { KubeClient } from '../kube/client.ts';
import { loadKubeConfig } from '../kube/config.ts';
import {
  UsageError,
  VerificationError,
  approve,
  ceremonyStatus,
  keyStatus,
  keygen,
  rotate,
  shareDecrypt,
  transcriptVerify,
} from './commands.ts';
import type { Io } from './commands.ts';

export const USAGE = `kubectl keyward: Keyward's kubectl plugin

Custodians and witnesses:
  keygen --type ec-p256|ec-p384|rsa|ed25519 --out me.pem      make your own key pair (prints the public key)
  approve CEREMONY --signer NAME --key me.pem [--role Witness]  sign the challenge (or the sealed head) and submit
          [--share share.bin]                                  with your share, re-encrypted to the ceremony
                                                               (KeyActivation, KeyDestruction)
  share decrypt CEREMONY --custodian NAME --key me.pem --out share.bin
                                                               decrypt your share (openssl cms -decrypt)
Operators:
  ceremony status CEREMONY                                     phase, steps, approvals, conditions
  transcript verify CEREMONY [--file transcript.jsonl]         recompute the chain, check every witness signature
  rotate KEY                                                   rotate a ManagedKey now
  status KEY                                                   a ManagedKey's versions and conditions

Every command takes -n NAMESPACE and --kubeconfig PATH.`;

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  type: { type: 'string' },
  out: { type: 'string' },
  signer: { type: 'string' },
  key: { type: 'string' },
  role: { type: 'string' },
  name: { type: 'string' },
  custodian: { type: 'string' },
  file: { type: 'string' },
  share: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function main(argv: readonly string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true });
  if (values.help || positionals.length === 0) {
    out(USAGE);
    return 0;
  }
  let client: KubeClient | undefined;
  const io: Io = {
    out,
    namespace: values.namespace ?? 'default',
    client: () => (client ??= new KubeClient(loadKubeConfig({ path: values.kubeconfig }).kubeConfig)),
  };
  const [command, sub, target] = positionals;
  const arg = (value: string | undefined, what: string): string => {
    if (value === undefined) throw new UsageError(`${what} is required`);
    return value;
  };
  switch (
    `${command ?? ''}${command === 'share' || command === 'ceremony' || command === 'transcript' ? ` ${sub ?? ''}` : ''}`
  ) {
    case 'keygen':
      keygen(values, io);
      break;
    case 'approve':
      await approve(arg(sub, 'the ceremony'), values, io);
      break;
    case 'share decrypt':
      await shareDecrypt(arg(target, 'the ceremony'), values, io);
      break;
    case 'ceremony status':
      await ceremonyStatus(arg(target, 'the ceremony'), io);
      break;
    case 'transcript verify':
      await transcriptVerify(arg(target, 'the ceremony'), values, io);
      break;
    case 'rotate':
      await rotate(arg(sub, 'the ManagedKey'), io);
      break;
    case 'status':
      await keyStatus(arg(sub, 'the ManagedKey'), io);
      break;
    default:
      throw new UsageError(`unknown command "${positionals.join(' ')}"\n\n${USAGE}`);
  }
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2), (line) => {
    process.stdout.write(`${line}\n`);
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`kubectl keyward: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = error instanceof UsageError ? 2 : 1;
      if (error instanceof VerificationError) process.exitCode = 1;
    },
  );
}
