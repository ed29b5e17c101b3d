/* analyzer.h - narrow, documented silencing of gcc -fanalyzer false
 * positives (scripts/analyze.sh runs it with -Werror).
 *
 * GCC 12's analyzer loses a heap pointer that is stored into an element of a
 * growable array at a variable index once two paths meet first, typically
 * "realloc when full, else keep the old buffer": the merged state no longer
 * knows where the array is, so the store is dropped and the pointer is
 * reported as leaked at the next statement although the array (and its
 * owner) still holds it. valgrind and LeakSanitizer runs of the same code
 * report no leak. Wrap only the statement(s) the analyzer names (the whole
 * function when the report moves along a loop to each next statement), and
 * say at each use which owner frees the pointer.
 *
 * Only gcc knows these warning names: other compilers (clang for the fuzz
 * harnesses) see nothing. */
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#define ANALYZER_STORE_FP_BEGIN                                                                    \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wanalyzer-malloc-leak\"")
#define ANALYZER_STORE_FP_END _Pragma("GCC diagnostic pop")
#else
#define ANALYZER_STORE_FP_BEGIN
#define ANALYZER_STORE_FP_END
#endif
