/* Unit suite for hex.c: the gateway's one hex form (upper case out, either
 * case in, exact length). */
#include "../../session-core/hex.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

Test(hex, encode_decode)
{
    static const uint8_t bin[] = {0x00, 0x9F, 0xAB, 0xFF};
    char s[9];
    hex_encode(bin, sizeof bin, s);
    cr_assert_str_eq(s, "009FABFF");
    char *a = hex_encode_alloc(bin, sizeof bin);
    cr_assert_str_eq(a, "009FABFF");
    free(a);
    uint8_t out[4];
    cr_assert(hex_decode("009fabFF", 8, out, 4));
    cr_assert_arr_eq(out, bin, 4);
    cr_assert_not(hex_decode("009FABF", 7, out, 4));
    cr_assert_not(hex_decode("009FABFF00", 10, out, 4));
    cr_assert_not(hex_decode("009FABFG", 8, out, 4));
    cr_assert_not(hex_decode("0x9FABFF", 8, out, 4));
}
