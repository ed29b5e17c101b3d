/* Unit suite for the "maildir" store provider (provider_maildir.c): logon
 * outcomes, the status row from what is really on disk, ValidateState. Real
 * folders under a fresh /tmp/mgw-prov-XXXXXX per test (provider_fixture.h). */
#include "provider_fixture.h"

#include "../../session-core/mapi_flags.h"
#include "../../session-core/profile.h"
#include "../../session-core/provider.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(provider_maildir, .init = fx_setup, .fini = fx_teardown);

static const provider_config *maildir_config(const char *path, const char *create)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"Mailbox\","
             "\"settings\":{\"path\":\"%s\"%s%s}}",
             path, create ? ",\"create\":" : "", create ? create : "");
    return fx_load_provider(json);
}

Test(provider_maildir, maildir_create_makes_folders_and_is_available)
{
    char md[512], sub[600];
    fx_path(md, "deep/er/Maildir");
    const provider_config *cfg = maildir_config(md, "true");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_assert_not_null(fx.state);
    const char *subs[] = {"cur", "new", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", md, subs[i]);
        cr_assert(fx_is_dir_mode(sub, 0700), "%s is not a 0700 folder", sub);
    }
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "0 messages (0 new)");

    /* Two new, one read, one dot file that is not a message. */
    fx_write_file(fx_path(sub, "deep/er/Maildir/new/1.a.host"), "a");
    fx_write_file(fx_path(sub, "deep/er/Maildir/new/2.b.host"), "b");
    fx_write_file(fx_path(sub, "deep/er/Maildir/cur/3.c.host:2,S"), "c");
    fx_write_file(fx_path(sub, "deep/er/Maildir/cur/.hidden"), "d");
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "3 messages (2 new)");
}

Test(provider_maildir, maildir_relative_path_resolves_against_base)
{
    const provider_config *cfg = maildir_config("rel/Maildir", "true");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    char sub[512];
    cr_assert(fx_is_dir_mode(fx_path(sub, "rel/Maildir/new"), 0700));
    cr_assert_eq(fx_status().status_code, STATUS_AVAILABLE);
}

Test(provider_maildir, maildir_missing_folder_logs_on_with_failure)
{
    char md[512], want[600];
    fx_path(md, "absent");
    const provider_config *cfg = maildir_config(md, "false");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_assert_not_null(fx.state);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "folder missing: %s/cur", md);
    cr_assert_str_eq(st.status_string, want);

    /* Created after logon: ValidateState finds it for real. */
    char sub[512];
    cr_assert_eq(mkdir(md, 0700), 0);
    cr_assert_eq(mkdir(fx_path(sub, "absent/cur"), 0700), 0);
    cr_assert_eq(mkdir(fx_path(sub, "absent/new"), 0700), 0);
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "folder missing: %s/tmp", md);
    cr_assert_str_eq(st.status_string, want);

    cr_assert_eq(mkdir(fx_path(sub, "absent/tmp"), 0700), 0);
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "0 messages (0 new)");
}

Test(provider_maildir, maildir_folder_removed_after_logon_fails_on_validate)
{
    char md[512], sub[512], want[600];
    fx_path(md, "Maildir");
    const provider_config *cfg = maildir_config(md, "true");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_assert_eq(fx_status().status_code, STATUS_AVAILABLE);

    cr_assert_eq(rmdir(fx_path(sub, "Maildir/new")), 0);
    /* status is cheap and does no I/O: still the last check's answer. */
    cr_assert_eq(fx_status().status_code, STATUS_AVAILABLE);
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "folder missing: %s/new", md);
    cr_assert_str_eq(st.status_string, want);

    /* A file where a folder belongs is named as such. */
    fx_write_file(sub, "x");
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "not a folder: %s/new", md);
    cr_assert_str_eq(st.status_string, want);
}
