#ifndef BUILDCACHE_COPENSSL_SHIM_H
#define BUILDCACHE_COPENSSL_SHIM_H
/* The low-level SHA256_* API is deprecated in OpenSSL 3 but still exported, uses the same
   SHA-NI assembly as EVP, and needs no heap context: ideal for hashing 16k small files. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#endif
