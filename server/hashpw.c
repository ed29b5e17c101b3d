/* hashpw.c - `mapigw hash-password` (see hashpw.h).
 *
 * The password is read with read(2) straight into one buffer, not through
 * stdio, so no hidden copy is left in a FILE buffer; that buffer is wiped
 * before returning. On a terminal, echo is turned off while typing.
 */
#include "hashpw.h"

#include <sodium.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

/* Reads up to the first newline (or EOF). Returns the length, or -1 on a
 * read error, or -2 when the line does not fit. */
static long read_line(char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        char c;
        ssize_t n = read(STDIN_FILENO, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0 || c == '\n')
            break;
        if (len + 1 >= cap)
            return -2;
        buf[len++] = c;
    }
    /* A CRLF line from a Windows editor or pipe: the CR is not part of it. */
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    return (long)len;
}

int hashpw_run(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "mapigw: hash-password: libsodium failed to initialise\n");
        return 1;
    }

    struct termios saved;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (tty) {
        struct termios quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fprintf(stderr, "Password: ");
    }

    char password[PASSWORD_MAX];
    long len = read_line(password, sizeof password);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fprintf(stderr, "\n");
    }

    int rc = 0;
    char verifier[crypto_pwhash_STRBYTES];
    if (len == -1) {
        fprintf(stderr, "mapigw: hash-password: cannot read stdin: %s\n", strerror(errno));
        rc = 1;
    } else if (len == -2) {
        fprintf(stderr, "mapigw: hash-password: password longer than %d bytes\n", PASSWORD_MAX - 1);
        rc = 2;
    } else if (len == 0) {
        fprintf(stderr, "mapigw: hash-password: empty password refused\n");
        rc = 2;
    } else if (crypto_pwhash_str(verifier, password, (unsigned long long)len,
                                 crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        fprintf(stderr, "mapigw: hash-password: out of memory while hashing\n");
        rc = 1;
    } else if (printf("%s\n", verifier) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "mapigw: hash-password: cannot write stdout\n");
        rc = 1;
    }
    sodium_memzero(password, sizeof password); /* a stack copy: wiped by hand (secmem.h) */
    return rc;
}
