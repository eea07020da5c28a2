#ifndef CSQLITE_SHIM_H
#define CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a cast macro Swift cannot import.
static inline void (*csqlite_transient(void))(void *) { return (void (*)(void *))-1; }
static inline void (*csqlite_static(void))(void *) { return (void (*)(void *))0; }
#endif
