/* A PKCS#11 module that is SoftHSM2 with one function replaced (MISBEHAVE names it, at compile time): it hangs
 * forever, or crashes, as a network HSM that stops answering or a broken vendor library would. Built by
 * pkcs11-shim.ts with gcc into a temporary directory. */
#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST shim;

static CK_RV misbehave(void) {
#ifdef CRASH
  raise(SIGSEGV);
#endif
  for (;;) pause();
  return CKR_GENERAL_ERROR;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  void *real = dlopen(REAL_MODULE, RTLD_NOW | RTLD_LOCAL);
  if (real == NULL) return CKR_GENERAL_ERROR;
  CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(real, "C_GetFunctionList");
  CK_FUNCTION_LIST_PTR functions;
  if (get == NULL || get(&functions) != CKR_OK) return CKR_GENERAL_ERROR;
  shim = *functions;
  *(void **)&shim.MISBEHAVE = (void *)misbehave;
  *list = &shim;
  return CKR_OK;
}
