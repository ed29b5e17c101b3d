/* hresult.c - names of the values listed in hresult.h (MAPI_HRESULTS). */
#include "hresult.h"

#include <stddef.h>
#include <string.h>

typedef struct {
    const char *name;
    HRESULT hr;
} hresult_row;

#define HRESULT_ROW(name, value, status, title) {#name, name},
static const hresult_row HRESULTS[] = {MAPI_HRESULTS(HRESULT_ROW)};
#undef HRESULT_ROW

static const hresult_row *find(HRESULT hr)
{
    for (size_t i = 0; i < sizeof HRESULTS / sizeof HRESULTS[0]; i++)
        if (HRESULTS[i].hr == hr)
            return &HRESULTS[i];
    return NULL;
}

const char *hresult_name(HRESULT hr)
{
    const hresult_row *row = find(hr);
    if (row)
        return row->name;
    return HR_FAILED(hr) ? "MAPI_E_CALL_FAILED" : "S_OK";
}

int hresult_from_name(const char *name, HRESULT *out)
{
    for (size_t i = 0; i < sizeof HRESULTS / sizeof HRESULTS[0]; i++)
        if (strcmp(HRESULTS[i].name, name) == 0) {
            *out = HRESULTS[i].hr;
            return 0;
        }
    return -1;
}
