/* fuzz_entryid.c - the entry-id decoder: hex_decode, entryid_split and the
 * session's OpenEntry, OpenMsgStore, GetContentsTable and CompareEntryIDs on
 * arbitrary bytes, one-off ids included, against the live session of
 * fuzz_common.h (maildir store, spool, abfile).
 *
 * Input: a mode byte, then
 *   mode % 4 == 0: the entry id's raw bytes;
 *   mode % 4 == 1: the entry id as hex text (decoded with hex_decode, as the
 *                  api does);
 *   mode % 4 == 2: an owner byte, then the key: the harness puts 4 zero
 *                  flag bytes and a known MAPIUID in front (owner % 5: the
 *                  three providers of profile p, the status objects, the
 *                  one-off provider), so inputs reach the owners' decoders;
 *   mode % 4 == 3: two keys of the same owner (owner byte, then keys split
 *                  at the first 0xFF byte) for CompareEntryIDs.
 * Properties: hex_decode/hex_encode and entryid_build/entryid_split round
 * trips; an id compares equal to itself whenever the compare succeeds.
 */
#include "fuzz_common.h"

#include "../../session-core/entryid.h"
#include "../../session-core/hex.h"
#include "../../session-core/identity.h"
#include "../../session-core/session_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OWNERS 5
static uint8_t UIDS[OWNERS][MAPIUID_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_gateway_init();
    for (size_t i = 0; i < 3; i++)
        entryid_provider_uid("p", 0, i, UIDS[i]);
    memcpy(UIDS[3], SESSION_STATUS_UID, MAPIUID_LEN);
    memcpy(UIDS[4], MAPI_ONE_OFF_UID, MAPIUID_LEN);
    return 0;
}

/* Builds header + uid + key; the caller frees. */
static uint8_t *with_owner(unsigned owner, const uint8_t *key, size_t key_len, size_t *len)
{
    uint8_t *eid = malloc(ENTRYID_HEADER_LEN + key_len + 1);
    if (!eid)
        abort();
    memset(eid, 0, 4);
    memcpy(eid + 4, UIDS[owner % OWNERS], MAPIUID_LEN);
    if (key_len)
        memcpy(eid + ENTRYID_HEADER_LEN, key, key_len);
    *len = ENTRYID_HEADER_LEN + key_len;
    return eid;
}

static void check_split_build(const uint8_t *eid, size_t len)
{
    const uint8_t *uid, *key;
    size_t key_len;
    if (!entryid_split(eid, len, &uid, &key, &key_len))
        return;
    if (uid != eid + 4 || key != eid + ENTRYID_HEADER_LEN || key_len != len - ENTRYID_HEADER_LEN)
        fz_fail("entryid_split: pointers outside the id");
    uint8_t *again = NULL;
    size_t again_len = 0;
    if (entryid_build(uid, key, key_len, &again, &again_len) != S_OK)
        fz_fail("entryid_build refused what entryid_split accepted (%zu bytes)", len);
    if (again_len != len || memcmp(again, eid, len) != 0)
        fz_fail("entryid_build(entryid_split(id)) != id");
    free(again);
}

static void check_hex(const uint8_t *bytes, size_t len)
{
    char *hex = hex_encode_alloc(bytes, len);
    if (!hex)
        abort();
    uint8_t *back = malloc(len + 1);
    if (!back)
        abort();
    if (strlen(hex) != 2 * len || !hex_decode(hex, 2 * len, back, len) || memcmp(back, bytes, len))
        fz_fail("hex round trip failed (%zu bytes)", len);
    free(back);
    free(hex);
}

static void open_all(const uint8_t *eid, size_t len)
{
    session *s = fz_session();
    check_split_build(eid, len);
    mapi_object obj;
    if (HR_SUCCEEDED(session_open_entry(s, eid, len, &obj)))
        mapi_object_clear(&obj);
    mapi_object store;
    mapi_rows folders;
    memset(&store, 0, sizeof store);
    memset(&folders, 0, sizeof folders);
    if (HR_SUCCEEDED(session_open_store(s, eid, len, &store, &folders))) {
        mapi_object_clear(&store);
        mapi_rows_clear(&folders);
    }
    mapi_rows contents;
    size_t total;
    memset(&contents, 0, sizeof contents);
    if (HR_SUCCEEDED(session_folder_contents(s, eid, len, 1, 5, &contents, &total)))
        mapi_rows_clear(&contents);
    bool equal = false;
    if (HR_SUCCEEDED(session_compare_entry_ids(s, eid, len, eid, len, &equal)) && !equal)
        fz_fail("an entry id (%zu bytes) does not compare equal to itself", len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fz_session_ensure();
    unsigned mode = data[0] % 4;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    check_hex(in, n);
    if (mode == 0) {
        open_all(in, n);
    } else if (mode == 1) {
        size_t len = n / 2;
        uint8_t *eid = malloc(len + 1);
        if (!eid)
            abort();
        if (hex_decode((const char *)in, n, eid, len))
            open_all(eid, len);
        free(eid);
    } else if (mode == 2 && n >= 1) {
        size_t len;
        uint8_t *eid = with_owner(in[0], in + 1, n - 1, &len);
        open_all(eid, len);
        free(eid);
    } else if (mode == 3 && n >= 1) {
        const uint8_t *k = in + 1;
        size_t klen = n - 1;
        const uint8_t *sep = memchr(k, 0xFF, klen);
        size_t alen_key = sep ? (size_t)(sep - k) : klen;
        const uint8_t *k2 = sep ? sep + 1 : k + klen;
        size_t blen_key = sep ? klen - alen_key - 1 : 0;
        size_t alen, blen;
        uint8_t *a = with_owner(in[0], k, alen_key, &alen);
        uint8_t *b = with_owner(in[0], k2, blen_key, &blen);
        bool ab = false, ba = false;
        HRESULT h1 = session_compare_entry_ids(fz_session(), a, alen, b, blen, &ab);
        HRESULT h2 = session_compare_entry_ids(fz_session(), b, blen, a, alen, &ba);
        if (HR_SUCCEEDED(h1) && HR_SUCCEEDED(h2) && ab != ba)
            fz_fail("CompareEntryIDs is not symmetric");
        free(a);
        free(b);
    }
    return 0;
}
