/* hashpw.h - the `mapigw hash-password` subcommand: reads one password line
 * from stdin and prints its argon2id verifier (crypto_pwhash_str, INTERACTIVE
 * limits, the same ones profile authentication checks against) for the
 * profiles file.
 *
 * Thread-safety: main thread only; it touches the terminal and stdin.
 */
#pragma once

/* Returns the process exit code: 0, 1 (libsodium or I/O failure) or 2 (empty
 * or oversized password). Messages go to stderr. */
int hashpw_run(void);
