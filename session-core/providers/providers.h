/* providers.h - the built-in provider kinds: where a kind is registered, and
 * the one header of this folder the core includes (provider.c).
 *
 * Each kind is a provider_ops table (../provider.h) defined in its own
 * provider_<kind>.c here, with its parsers beside it. To add one, write that
 * file and add one X(...) line below: the core's kind table (profiles,
 * logon, status rows) and the per-kind gauges of /metrics are built from this
 * list, in this order, and nothing else names the kinds. At most
 * PROVIDER_KIND_MAX of them.
 */
#pragma once

#include "../provider.h"

#define PROVIDER_KINDS(X)                                                                          \
    X(PROVIDER_MAILDIR)                                                                            \
    X(PROVIDER_ABFILE)                                                                             \
    X(PROVIDER_SPOOL)                                                                              \
    X(PROVIDER_IMAP)                                                                               \
    X(PROVIDER_SMTP)                                                                               \
    X(PROVIDER_LDAP)

#define PROVIDER_KIND_DECLARE(ops) extern const provider_ops ops;
PROVIDER_KINDS(PROVIDER_KIND_DECLARE)
#undef PROVIDER_KIND_DECLARE
