/* SPDX-License-Identifier: MIT */
/* Tests for src/llm/files.c: project paths (no traversal, no absolute
 * paths, no control characters) and the code blocks of an answer that
 * name a file; and sync.c's push, which replaces a folder's file whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

#include "llm/llm.h"

static bool ok(const char *p)
{
    return ad_llm_path_ok(p, strlen(p));
}

static void paths(void **state)
{
    AD_UNUSED(state);
    assert_true(ok("a.txt"));
    assert_true(ok("src/app/main.ts"));
    assert_true(ok(".gitignore"));
    assert_true(ok("dir/..hidden"));
    const char *bad[] = {"",  "/etc/passwd", "../x", "a/../b", "a/./b", "a//b", "a/", "..",
                         ".", "a\\b",        "c:x",  "a\nb",   "a\x01", "a/..", "./a"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        assert_false(ok(bad[i]));
    }
    char long_path[600];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    assert_false(ok(long_path));
    assert_false(ad_llm_path_ok("a\xff", 2)); /* not UTF-8 */
}

static void code_blocks_that_name_files(void **state)
{
    AD_UNUSED(state);
    const char *md = "Here:\n"
                     "```ts src/app.ts\nconst a = 1;\n```\n"
                     "```python\nprint('no file')\n```\n"
                     "```README.md\n# Hi\n```\n"
                     "```js title=\"web/x.js\"\nx()\n```\n"
                     "```sh ../../etc/passwd\nevil\n```\n"
                     "```ts src/app.ts\nconst a = 2;\n```\n"
                     "```ts unclosed.ts\nnever\n";
    json_t *f = ad_llm_code_files(md);
    assert_int_equal(json_array_size(f), 3);
    json_t *a = json_array_get(f, 0);
    assert_string_equal(json_string_value(json_object_get(a, "path")), "src/app.ts");
    assert_string_equal(json_string_value(json_object_get(a, "content")), "const a = 2;\n");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 1), "path")),
                        "README.md");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 2), "path")),
                        "web/x.js");
    json_decref(f);
    f = ad_llm_code_files("no code here");
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);
}

/* tar.c: ustar headers with a valid checksum, a pax header for a long
 * path, data padded to 512 bytes, two zero blocks at the end. */
static unsigned checksum(const unsigned char *h)
{
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++) {
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    }
    return sum;
}

static void tar_archive(void **state)
{
    AD_UNUSED(state);
    ad_buf_t b;
    ad_buf_init(&b, 1 << 20);
    assert_int_equal(ad_llm_tar_file(&b, "p/a.txt", "hello", 5, 1700000000), 0);
    assert_int_equal(b.len, 1024);
    const unsigned char *h = (const unsigned char *)b.data;
    assert_string_equal((const char *)h, "p/a.txt");
    assert_memory_equal(h + 257, "ustar", 6);
    assert_int_equal(h[156], '0');
    assert_int_equal(strtoul((const char *)h + 124, NULL, 8), 5);
    assert_int_equal(strtoul((const char *)h + 148, NULL, 8), checksum(h));
    assert_memory_equal(b.data + 512, "hello", 5);
    char longp[300];
    memset(longp, 'x', sizeof(longp) - 1);
    longp[0] = 'p';
    longp[1] = '/';
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(ad_llm_tar_file(&b, longp, "", 0, 0), 0);
    const unsigned char *x = (const unsigned char *)b.data + 1024;
    assert_int_equal(x[156], 'x');
    char rec[400];
    snprintf(rec, sizeof(rec), "309 path=%s\n", longp);
    assert_memory_equal(b.data + 1536, rec, strlen(rec));
    assert_int_equal(strlen(rec), 309);
    assert_int_equal(ad_llm_tar_end(&b), 0);
    assert_int_equal(b.len % 512, 0);
    ad_buf_cleanup(&b);
    char name[80];
    ad_llm_tar_folder_name("My site / v1", name, sizeof(name));
    assert_string_equal(name, "My-site---v1");
    ad_llm_tar_folder_name("..", name, sizeof(name));
    assert_string_equal(name, "-.");
    ad_llm_tar_folder_name("", name, sizeof(name));
    assert_string_equal(name, "project");
    ad_buf_init(&b, 1000); /* bounded: a file past the buffer's max */
    assert_int_not_equal(ad_llm_tar_file(&b, "a", longp, sizeof(longp), 0), 0);
    ad_buf_cleanup(&b);
    /* a size or a time past ustar's 11 octal digits is refused, never cut
     * (the header fails before any content is read) */
    ad_buf_init(&b, 1 << 20);
    assert_int_equal(ad_llm_tar_file(&b, "a", "", (size_t)1 << 33, 0), AD_ETOOBIG);
    assert_int_equal(ad_llm_tar_file(&b, "a", "", 0, (int64_t)1 << 33), AD_ETOOBIG);
    assert_int_equal(b.len, 0);
    assert_int_equal(ad_llm_tar_file(&b, "a", "", 0, ((int64_t)1 << 33) - 1), 0);
    assert_int_equal(strtoull((const char *)b.data + 136, NULL, 8), ((uint64_t)1 << 33) - 1);
    ad_buf_cleanup(&b);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* A push replaces a folder's file whole: a reader that opened it before
 * reads the old content whole, the file keeps its mode, no temporary file
 * stays behind, and a link at a project file's name is left as it is. */
static void sync_push_replaces_a_file_whole(void **state)
{
    AD_UNUSED(state);
    char dir[] = "/tmp/agentd-sync-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[200], outside[200], link[200];
    snprintf(path, sizeof(path), "%s/README.md", dir);
    snprintf(outside, sizeof(outside), "%s.outside", dir);
    snprintf(link, sizeof(link), "%s/link.txt", dir);
    put(path, "old\n");
    assert_int_equal(chmod(path, 0600), 0);
    int reader = open(path, O_RDONLY);
    assert_true(reader >= 0);

    json_t *project =
        json_pack("{s:[{s:s, s:s}]}", "files", "path", "README.md", "content", "the new content\n");
    json_t *base = json_object();
    size_t written = 0;
    int64_t later = ad_wall_ms() + 3600000; /* the folder side did not change */
    assert_int_equal(ad_llm_sync_push(project, dir, later, base, &written), 0);
    assert_int_equal(written, 1);

    char got[64] = {0};
    assert_int_equal(read(reader, got, sizeof(got) - 1), 4);
    assert_string_equal(got, "old\n");
    close(reader);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    memset(got, 0, sizeof(got));
    assert_int_equal(fread(got, 1, sizeof(got) - 1, f), 16);
    fclose(f);
    assert_string_equal(got, "the new content\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* a link where the project has a file: not written through, not replaced */
    put(outside, "outside\n");
    assert_int_equal(symlink(outside, link), 0);
    json_decref(project);
    project = json_pack("{s:[{s:s, s:s}]}", "files", "path", "link.txt", "content", "pushed\n");
    assert_int_equal(ad_llm_sync_push(project, dir, later, base, &written), AD_EIO);
    assert_int_equal(written, 0);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    f = fopen(outside, "r");
    assert_non_null(f);
    memset(got, 0, sizeof(got));
    assert_int_equal(fread(got, 1, sizeof(got) - 1, f), 8);
    fclose(f);
    assert_string_equal(got, "outside\n");

    DIR *d = opendir(dir); /* nothing left but the two */
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            assert_true(strcmp(e->d_name, "README.md") == 0 || strcmp(e->d_name, "link.txt") == 0);
            n++;
        }
    }
    closedir(d);
    assert_int_equal(n, 2);
    json_decref(project);
    json_decref(base);
    unlink(link);
    unlink(path);
    unlink(outside);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tar_archive),
        cmocka_unit_test(paths),
        cmocka_unit_test(code_blocks_that_name_files),
        cmocka_unit_test(sync_push_replaces_a_file_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
