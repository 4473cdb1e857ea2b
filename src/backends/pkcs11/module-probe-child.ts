// Run by module-probe.ts in a process of its own: loads the PKCS#11 module given as the only argument, initializes
// it, lists the slots with a token and opens and closes a session on each, then finalizes. Prints nothing on success
// and the error message on failure; the parent kills it when it does not finish in time.
import pkcs11js from 'pkcs11js';

const path = process.argv[2] ?? '';
const pkcs11 = new pkcs11js.PKCS11();
try {
  pkcs11.load(path);
  pkcs11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  for (const slot of pkcs11.C_GetSlotList(true)) {
    pkcs11.C_CloseSession(pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION));
  }
  pkcs11.C_Finalize();
} catch (error) {
  process.stderr.write(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
