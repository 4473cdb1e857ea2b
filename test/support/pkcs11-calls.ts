// Counts the calls a process makes of one pkcs11js function. Every backend of a process shares one pkcs11js object
// per module (module.ts), so wrapping it there counts the backends' calls too.

import type pkcs11js from 'pkcs11js';

export interface CallCounter {
  readonly count: number;
  restore(): void;
}

export function countCalls(pkcs11: pkcs11js.PKCS11, name: 'C_GetAttributeValue'): CallCounter {
  const original = pkcs11[name].bind(pkcs11);
  let count = 0;
  pkcs11[name] = (...args: Parameters<typeof original>) => {
    count += 1;
    return original(...args);
  };
  return {
    get count() {
      return count;
    },
    restore() {
      pkcs11[name] = original;
    },
  };
}
