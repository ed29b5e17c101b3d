/* profiles_fixture.h - profiles files a black-box test writes itself, with
 * argon2id verifiers made on the spot (suites auth_hardening and reload).
 * Each call asserts: a failure ends the test. */
#pragma once

#include "../support/gw.h"

#include <sodium.h>
#include <stddef.h>

/* A verifier for password with the given argon2id cost. */
void pf_verifier(char out[crypto_pwhash_STRBYTES], const char *password, unsigned long long ops,
                 size_t mem);

/* "name" with the argon2id verifier v and no services, as a profiles entry. */
void pf_argon_profile(char *out, size_t cap, const char *name, const char *v);

/* Starts the gateway (gw_start) on {"profiles":[entries]}, written to a
 * temporary file that is removed once the gateway has copied it. */
gw *pf_start_with(const char *entries, const char *const *args);
