#ifndef CLIBPQ_SHIM_H
#define CLIBPQ_SHIM_H
/* libpq, PostgreSQL's C client library (Debian: libpq-dev). pkg-config adds its include folder. */
#include <libpq-fe.h>
#endif
