/* Check suite for the safe-write path (lib/io/safewrite.c, include/nnprobe/file.h) as every
 * writer uses it: nnp_dataset_save_idx, nnp_net_save_onnx and nnp_file_write. Regression
 * tests for issue 17, items 1 to 3: a symlink stays a symlink and its target is updated, a
 * FIFO or device is written in place and never replaced, a file's mode is kept, and a save cut
 * short by RLIMIT_FSIZE leaves the old file whole and loadable with no temporary file left. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

enum { W_IDX, W_ONNX, W_FILE, N_WRITERS };
static const char *const writer_name[] = {"idx", "onnx", "nnp_file_write"};

/* Variant v of what writer `k` writes (v changes the size and the bytes). */
static nnp_status save(int k, int v, const char *path)
{
    nnp_status s;
    if (k == W_IDX) {
        size_t n = v ? 120 : 80;
        float *x = calloc(n * 28 * 28, sizeof *x);
        int32_t *y = calloc(n, sizeof *y);
        tu_fill_uniform(x, n * 28 * 28, 0, 1, 3 + (uint64_t)v);
        for (size_t i = 0; i < n; i++) y[i] = (int32_t)(i % 10);
        nnp_dataset *ds = NULL;
        s = nnp_dataset_create(n, 1, 28, 28, x, y, &ds);
        if (s == NNP_OK) s = nnp_dataset_save_idx(ds, path, NULL, NNP_IDX_FLOAT);
        nnp_dataset_free(ds);
        free(x);
        free(y);
    } else if (k == W_ONNX) {
        nnp_net *net = NULL;
        s = nnp_net_create(1, 28, 28, &net);
        if (s == NNP_OK) s = nnp_net_add_dense(net, v ? 300 : 200, NULL);
        if (s == NNP_OK) s = nnp_net_add_activation(net, NNP_LAYER_RELU, NULL);
        if (s == NNP_OK) s = nnp_net_add_dense(net, 10, NULL);
        if (s == NNP_OK) s = nnp_net_save_onnx(net, path);
        nnp_net_free(net);
    } else {
        size_t n = v ? 300000 : 200000;
        char *b = malloc(n);
        for (size_t i = 0; i < n; i++) b[i] = (char)('a' + (i + (size_t)v) % 26);
#ifdef NNP_TEST_OLD_API /* only for running these tests against the code before file.h */
        s = NNP_EIO;
#else
        s = nnp_file_write(path, b, n);
#endif
        free(b);
    }
    return s;
}

/* The whole file (malloc) and its size; NULL if it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    size_t got;
    while ((got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    fclose(f);
    *len = n;
    return b;
}

static int same_file_bytes(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Whether the file loads with the reader of writer k (the byte reader always does). */
static int loads(int k, const char *path)
{
    if (k == W_IDX) {
        nnp_dataset *ds = NULL;
        nnp_status s = nnp_dataset_load_idx(path, NULL, &ds);
        nnp_dataset_free(ds);
        return s == NNP_OK;
    }
    if (k == W_ONNX) {
        nnp_net *net = NULL;
        nnp_status s = nnp_net_load_onnx(path, &net);
        nnp_net_free(net);
        return s == NNP_OK;
    }
    return access(path, R_OK) == 0;
}

/* Number of "<base>.tmp*" files next to `path` (left-over temporary files). */
static int leftovers(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    ck_assert_ptr_nonnull(slash);
    *slash = '\0';
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s.tmp", slash + 1);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* Paths for one test: p[0] the target, p[1] a reference copy, p[2] a link. */
static void paths(int k, const char *what, char p[3][512])
{
    static const char *const ext[] = {"idx", "onnx", "bin"};
    char name[128];
    snprintf(name, sizeof name, "%s-%s.%s", what, writer_name[k], ext[k]);
    tu_tmp_path(p[0], sizeof p[0], name);
    snprintf(name, sizeof name, "%s-%s-ref.%s", what, writer_name[k], ext[k]);
    tu_tmp_path(p[1], sizeof p[1], name);
    snprintf(name, sizeof name, "%s-%s-link", what, writer_name[k]);
    tu_tmp_path(p[2], sizeof p[2], name);
    for (int i = 0; i < 3; i++) unlink(p[i]);
}

/* A symlink as the output path stays a symlink; its target gets the new content. */
static void check_symlink(int k)
{
    char p[3][512];
    paths(k, "symlink", p);
    ck_assert_ok(save(k, 0, p[0]));
    ck_assert_ok(save(k, 1, p[1]));
    /* a relative link, resolved against the link's own directory */
    const char *base = strrchr(p[0], '/') + 1;
    ck_assert_int_eq(symlink(base, p[2]), 0);
    ck_assert_ok(save(k, 1, p[2]));
    struct stat st;
    ck_assert_int_eq(lstat(p[2], &st), 0);
    ck_assert_msg(S_ISLNK(st.st_mode), "%s: the symlink was replaced", writer_name[k]);
    ck_assert_msg(same_file_bytes(p[0], p[1]), "%s: the link's target was not updated",
                  writer_name[k]);
    ck_assert_int_eq(leftovers(p[0]), 0);
    for (int i = 0; i < 3; i++) unlink(p[i]);
}

/* A FIFO as the output path is written in place: a reader gets every byte, the FIFO stays. */
static void check_fifo(int k)
{
    char p[3][512];
    paths(k, "fifo", p);
    ck_assert_ok(save(k, 1, p[1]));
    size_t want = 0;
    free(slurp(p[1], &want));
    ck_assert_int_eq(mkfifo(p[0], 0600), 0);
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) { /* reader: counts the bytes and reports them through the pipe */
        alarm(20); /* if the writer never opens the FIFO (it replaced it), give up */
        int fd = open(p[0], O_RDONLY);
        unsigned long long n = 0;
        char buf[65536];
        ssize_t got;
        while (fd >= 0 && (got = read(fd, buf, sizeof buf)) > 0) n += (unsigned long long)got;
        (void)!write(pipefd[1], &n, sizeof n);
        _exit(0);
    }
    close(pipefd[1]);
    nnp_status s = save(k, 1, p[0]);
    struct stat st;
    int still_fifo = lstat(p[0], &st) == 0 && S_ISFIFO(st.st_mode);
    if (!still_fifo) kill(pid, SIGKILL); /* the reader would wait for a writer forever */
    unsigned long long got = 0;
    ssize_t r = read(pipefd[0], &got, sizeof got);
    close(pipefd[0]);
    waitpid(pid, NULL, 0);
    unlink(p[0]);
    unlink(p[1]);
    ck_assert_msg(still_fifo, "%s: the FIFO was replaced", writer_name[k]);
    ck_assert_ok(s);
    ck_assert_int_eq(r, (ssize_t)sizeof got);
    ck_assert_uint_eq(got, want);
}

/* An existing file keeps its mode (0600 stays private); a new one gets 0666 & ~umask. */
static void check_mode(int k)
{
    char p[3][512];
    paths(k, "mode", p);
    mode_t old_mask = umask(022);
    ck_assert_ok(save(k, 0, p[0]));
    struct stat st;
    ck_assert_int_eq(stat(p[0], &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0644);
    ck_assert_int_eq(chmod(p[0], 0600), 0);
    ck_assert_ok(save(k, 1, p[0]));
    ck_assert_int_eq(stat(p[0], &st), 0);
    umask(old_mask);
    ck_assert_msg((st.st_mode & 07777) == 0600, "%s: mode 0600 became %04o", writer_name[k],
                  (unsigned)(st.st_mode & 07777));
    unlink(p[0]);
}

/* A save cut short by the file-size limit (SIGXFSZ ignored, so write() fails with EFBIG)
 * fails with the reason, leaves the old file byte for byte, loadable, and no temporary file. */
static void check_fsize(int k)
{
    char p[3][512];
    paths(k, "fsize", p);
    ck_assert_ok(save(k, 0, p[0]));
    ck_assert_ok(save(k, 0, p[1]));
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {100 * 1024, 100 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        nnp_status s = save(k, 1, p[0]);
        char msg[512];
        snprintf(msg, sizeof msg, "%d %s", (int)s, nnp_last_error());
        (void)!write(pipefd[1], msg, strlen(msg) + 1);
        _exit(0);
    }
    close(pipefd[1]);
    char msg[512] = "";
    ssize_t r = read(pipefd[0], msg, sizeof msg - 1);
    close(pipefd[0]);
    int wst;
    waitpid(pid, &wst, 0);
    ck_assert_int_gt(r, 0);
    ck_assert_msg(same_file_bytes(p[0], p[1]), "%s: the old file was changed", writer_name[k]);
    ck_assert_msg(loads(k, p[0]), "%s: the old file no longer loads", writer_name[k]);
    ck_assert_msg(atoi(msg) == NNP_EIO, "%s: the cut-short save returned %s", writer_name[k], msg);
    ck_assert_msg(strstr(msg, strerror(EFBIG)) != NULL, "no strerror in \"%s\"", msg);
    ck_assert_msg(strstr(msg, p[0]) != NULL, "no path in \"%s\"", msg);
    ck_assert_int_eq(leftovers(p[0]), 0);
    unlink(p[0]);
    unlink(p[1]);
}

/* A directory as the output path is refused, with the path and strerror, and kept. */
static void check_directory(int k)
{
    char p[3][512];
    paths(k, "dir", p);
    rmdir(p[0]);
    ck_assert_int_eq(mkdir(p[0], 0700), 0);
    nnp_status s = save(k, 0, p[0]);
    struct stat st;
    int still_dir = stat(p[0], &st) == 0 && S_ISDIR(st.st_mode);
    rmdir(p[0]);
    ck_assert_status(s, NNP_EIO);
    ck_assert(still_dir);
    ck_assert_error_has(p[0]);
    ck_assert_error_has(strerror(EISDIR));
}

START_TEST(test_symlink) { check_symlink(_i); }
END_TEST
START_TEST(test_fifo) { check_fifo(_i); }
END_TEST
START_TEST(test_mode) { check_mode(_i); }
END_TEST
START_TEST(test_fsize) { check_fsize(_i); }
END_TEST
START_TEST(test_directory) { check_directory(_i); }
END_TEST

#ifndef NNP_TEST_OLD_API
/* Devices are written in place: /dev/null takes the bytes and stays a device; /dev/full's
 * ENOSPC is reported with the path and strerror, and the device is left alone. */
START_TEST(test_devices)
{
    static const char data[] = "nnprobe";
    ck_assert_ok(nnp_file_write("/dev/null", data, sizeof data));
    struct stat st;
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
    ck_assert_ok(nnp_file_check_writable("/dev/null"));
    if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
        ck_assert_status(nnp_file_write("/dev/full", data, sizeof data), NNP_EIO);
        ck_assert_error_has("/dev/full");
        ck_assert_error_has(strerror(ENOSPC));
        ck_assert_int_eq(stat("/dev/full", &st), 0);
        ck_assert(S_ISCHR(st.st_mode));
    }
}
END_TEST

/* A dangling symlink's target is created (the link kept); a chain of links is followed. */
START_TEST(test_link_chain)
{
    char target[512], l1[512], l2[512];
    tu_tmp_path(target, sizeof target, "chain-target.txt");
    tu_tmp_path(l1, sizeof l1, "chain-l1");
    tu_tmp_path(l2, sizeof l2, "chain-l2");
    unlink(target), unlink(l1), unlink(l2);
    ck_assert_int_eq(symlink(target, l1), 0); /* absolute, dangling */
    ck_assert_int_eq(symlink(strrchr(l1, '/') + 1, l2), 0);
    ck_assert_ok(nnp_file_write(l2, "abc", 3));
    size_t n = 0;
    char *b = slurp(target, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(n, 3);
    ck_assert(memcmp(b, "abc", 3) == 0);
    free(b);
    struct stat st;
    ck_assert_int_eq(lstat(l1, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(lstat(l2, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(leftovers(target), 0);
    unlink(target), unlink(l1), unlink(l2);
}
END_TEST

/* Out of memory at every allocation of a write through a symlink over an existing file:
 * NNP_ENOMEM naming it, the old content kept, no temporary file left (leaks: ASan/valgrind). */
typedef struct alloc_ctx {
    char target[512], link[512];
} alloc_ctx;

static nnp_status alloc_run(void *user, long k)
{
    (void)k;
    const alloc_ctx *c = user;
    return nnp_file_write(c->link, "new", 3);
}

static void alloc_after(void *user, long k, nnp_status s)
{
    alloc_ctx *c = user;
    size_t n = 0;
    char *b = slurp(c->target, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert_msg(n == 3 && memcmp(b, s == NNP_OK ? "new" : "old", 3) == 0,
                  "k = %ld: the target holds '%.*s'", k, (int)n, b);
    free(b);
    ck_assert_int_eq(leftovers(c->target), 0);
    struct stat st;
    ck_assert_int_eq(lstat(c->link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    FILE *f = fopen(c->target, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("old", f);
    fclose(f);
}

START_TEST(test_alloc_failures)
{
    alloc_ctx c;
    tu_tmp_path(c.target, sizeof c.target, "alloc-target.txt");
    tu_tmp_path(c.link, sizeof c.link, "alloc-link");
    unlink(c.link);
    FILE *f = fopen(c.target, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("old", f);
    fclose(f);
    ck_assert_int_eq(symlink(c.target, c.link), 0);
    tu_alloc_loop loop = {.what = "nnp_file_write", .max_k = 50, .until_ok = 1,
                          .check_message = 1, .run = alloc_run, .after = alloc_after, .user = &c};
    tu_alloc_counts r = tu_alloc_failures(&loop);
    ck_assert_int_gt(r.failures, 0);
    ck_assert_int_gt(r.successes, 0);
    unlink(c.link);
    unlink(c.target);
}
END_TEST

START_TEST(test_check_writable)
{
    char p[512];
    tu_tmp_path(p, sizeof p, "check.txt");
    unlink(p);
    ck_assert_ok(nnp_file_check_writable(p));
    ck_assert_int_eq(access(p, F_OK), -1); /* nothing created */
    tu_tmp_path(p, sizeof p, "no-such-dir/x.csv");
    ck_assert_status(nnp_file_check_writable(p), NNP_EIO);
    ck_assert_error_has(p);
    ck_assert_error_has(strerror(ENOENT));
    ck_assert_status(nnp_file_write(p, "x", 1), NNP_EIO);
    ck_assert_error_has(strerror(ENOENT));
    ck_assert_status(nnp_file_check_writable(""), NNP_EINVAL);
    ck_assert_status(nnp_file_check_writable(NULL), NNP_EINVAL);
    ck_assert_status(nnp_file_write(NULL, "x", 1), NNP_EINVAL);
    ck_assert_status(nnp_file_write("/dev/null", NULL, 1), NNP_EINVAL);
    ck_assert_ok(nnp_file_write("/dev/null", NULL, 0));
}
END_TEST
#endif

static Suite *files_suite(void)
{
    Suite *s = suite_create("files");
    TCase *tc = tcase_create("writers");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_symlink, 0, N_WRITERS);
    tcase_add_loop_test(tc, test_fifo, 0, N_WRITERS);
    tcase_add_loop_test(tc, test_mode, 0, N_WRITERS);
    tcase_add_loop_test(tc, test_fsize, 0, N_WRITERS);
    tcase_add_loop_test(tc, test_directory, 0, N_WRITERS);
    suite_add_tcase(s, tc);
#ifndef NNP_TEST_OLD_API
    tc = tcase_create("file");
    tcase_add_test(tc, test_devices);
    tcase_add_test(tc, test_link_chain);
    tcase_add_test(tc, test_check_writable);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
#endif
    return s;
}

int main(void) { return tu_run(files_suite()); }
