#pragma once
#include <gcrypt.h>

/// Initialises libgcrypt as its manual asks of every program before other calls: checks that the library is at least
/// the version of these headers and ends initialisation, without secure memory (heidi's only secret, the checkpoint
/// key, lives in ordinary memory anyway). Does nothing when libgcrypt is already initialised (libsystemd, which
/// shares the process, may have done it). Returns 0, or -1 when the library is older than the headers.
static inline int heidi_gcrypt_initialize(void) {
    if (!gcry_check_version(GCRYPT_VERSION)) return -1;
    if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
        gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
        gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    }
    return 0;
}
