/* Unit suite for status_row.c: the instance-key encoding (one helper for the
 * session's keys, the view's local keys and QueryIdentity's source key) and
 * the deep copy of a row. */
#include "../../session-core/mapi_flags.h"
#include "../../session-core/status_row.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Clients see these bytes (hex in "instance_key", and the last 8 bytes of a
 * status object's entry id): serial, then the 16-bit row index, big-endian. */
Test(status_row, instance_key_layout)
{
    uint8_t ik[STATUS_INSTANCE_KEY_LEN];
    status_instance_key(0x0102A0B0C0ull, 0x0304, ik);
    const uint8_t want[STATUS_INSTANCE_KEY_LEN] = {0x00, 0x01, 0x02, 0xA0, 0xB0, 0xC0, 0x03, 0x04};
    cr_assert_arr_eq(ik, want, sizeof want);

    /* A view's local key: serial 0, the index in the last two bytes. */
    status_instance_key(0, 7, ik);
    const uint8_t local[STATUS_INSTANCE_KEY_LEN] = {0, 0, 0, 0, 0, 0, 0, 7};
    cr_assert_arr_eq(ik, local, sizeof local);
}

Test(status_row, instance_key_round_trip)
{
    static const uint64_t serials[] = {0, 1, 0xFFFF, 0x10000, (UINT64_C(1) << 48) - 1};
    static const size_t indexes[] = {0, 1, 255, 256, 0xFFFF};
    for (size_t s = 0; s < sizeof serials / sizeof serials[0]; s++)
        for (size_t i = 0; i < sizeof indexes / sizeof indexes[0]; i++) {
            uint8_t ik[STATUS_INSTANCE_KEY_LEN];
            status_instance_key(serials[s], indexes[i], ik);
            uint64_t serial = 99;
            size_t index = 99;
            status_instance_key_split(ik, &serial, &index);
            cr_assert_eq(serial, serials[s]);
            cr_assert_eq(index, indexes[i]);
            index = 99;
            status_instance_key_split(ik, NULL, &index);
            cr_assert_eq(index, indexes[i], "the serial may be left out");
        }
}

/* Every string and the identity entry id copied: nothing shared. */
Test(status_row, deep_copy)
{
    static const uint8_t EID_A[] = {1, 2, 3, 4};
    status_row src;
    memset(&src, 0, sizeof src);
    memset(src.instance_key, 7, STATUS_INSTANCE_KEY_LEN);
    src.display_name = (char *)"Mailbox";
    src.resource_flags = STATUS_DEFAULT_STORE;
    src.has_identity = true;
    src.identity_display = (char *)"Dan";
    src.identity_addrtype = (char *)"SMTP";
    src.identity_address = (char *)"dan@x";
    src.identity_entry_id = (uint8_t *)EID_A;
    src.identity_entry_id_len = sizeof EID_A;
    src.status_string = (char *)"ok";
    status_row dst;
    cr_assert_eq(status_row_copy(&dst, &src), 0);
    cr_assert_neq(dst.display_name, src.display_name);
    cr_assert_str_eq(dst.display_name, "Mailbox");
    cr_assert_str_eq(dst.status_string, "ok");
    cr_assert_null(dst.resource_path);
    cr_assert_neq(dst.identity_entry_id, src.identity_entry_id);
    cr_assert_arr_eq(dst.identity_entry_id, EID_A, sizeof EID_A);
    cr_assert_eq(dst.resource_flags, STATUS_DEFAULT_STORE);
    cr_assert_arr_eq(dst.instance_key, src.instance_key, STATUS_INSTANCE_KEY_LEN);

    status_table t = {malloc(sizeof dst), 1, 1};
    cr_assert_not_null(t.rows);
    t.rows[0] = dst;
    status_table_free(&t);
    cr_assert_null(t.rows);
    cr_assert_eq(t.count, 0);
}
