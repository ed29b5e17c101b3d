/* gw_private.h - what the gw_*.c files share and the tests do not see: the
 * concrete struct gw, an asserting strdup and a whole-file read. Tests
 * include gw.h only. */
#pragma once

#include "gw.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct gw {
    pid_t pid;
    bool exited;
    int exit_status;
    int port;
    char tmp[PATH_MAX];
    char data[PATH_MAX];
    char profiles[PATH_MAX];
    char portfile[PATH_MAX];
    char log[PATH_MAX];
    char out[PATH_MAX]; /* stdout's own file (gw_*_split), else "" */
    char **secrets;
    size_t nsecrets;
};

/* strdup that asserts on failure. */
char *gw_xstrdup(const char *s);
