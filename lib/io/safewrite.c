/* The library's one safe-write path (see safewrite.h for what it guarantees).
 *
 * Why this shape: replacing by rename is what makes a regular file's update atomic, but rename
 * acts on a name, so it must be given the name the data should end up under (the final target
 * of a symlink chain, not the link) and must never be used on things that are not regular
 * files (a device or FIFO the user named is a destination, not a file to swap). */
#define _POSIX_C_SOURCE 200809L

#include "safewrite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

#define ERRNO_CAP 128
#define LINK_HOPS 40 /* as the kernel's MAXSYMLINKS */
#define TMP_TRIES 1000

struct nnpi_wfile {
    const char *who;
    char *path;   /* as given, for messages */
    char *target; /* what is written: the resolved name, or `path` in place */
    char *tmp;    /* the temporary file, NULL when writing in place */
    int fd;
    int in_place;
};

nnp_status nnpi_io_error(const char *who, const char *path, const char *what, int err)
{
    char e[ERRNO_CAP];
    if (err == 0 || strerror_r(err, e, sizeof e) != 0) snprintf(e, sizeof e, "unknown error");
    return nnpi_error(NNP_EIO, "%s: %s: %s: %s", who, path, what, e);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = nnpi_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* The contents of the symlink `p` (NUL-terminated, nnpi_free), or NULL with errno set. */
static char *read_link(const char *p)
{
    for (size_t cap = 256; cap <= ((size_t)1 << 20); cap *= 2) {
        char *buf = nnpi_malloc(cap);
        if (buf == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        ssize_t n = readlink(p, buf, cap);
        if (n < 0) {
            nnpi_free(buf);
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        nnpi_free(buf);
    }
    errno = ENAMETOOLONG;
    return NULL;
}

/* Where `path` is to be written: *target (nnpi_free) and whether in place; *st and *exists
 * describe the target when it is replaced. */
static nnp_status resolve(const char *who, const char *path, char **target, int *in_place,
                          struct stat *st, int *exists)
{
    *target = NULL;
    *in_place = 0;
    *exists = 0;
    if (path[0] == '\0') return nnpi_error(NNP_EINVAL, "%s: the path is empty", who);
    struct stat s;
    errno = 0;
    if (stat(path, &s) == 0) {
        if (S_ISDIR(s.st_mode)) return nnpi_io_error(who, path, "cannot write", EISDIR);
        if (!S_ISREG(s.st_mode)) { /* device, FIFO, socket: a destination, written in place */
            *in_place = 1;
            *target = dup_str(path);
            return *target ? NNP_OK : nnpi_error(NNP_ENOMEM, "%s: %s: out of memory", who, path);
        }
    } else if (errno != ENOENT) {
        return nnpi_io_error(who, path, "cannot stat", errno);
    }
    /* A regular file or nothing yet: follow the symlinks by hand, since rename() replaces the
     * name it is given and the link must stay a link. A dangling link's target is created. */
    char *cur = dup_str(path);
    if (cur == NULL) return nnpi_error(NNP_ENOMEM, "%s: %s: out of memory", who, path);
    for (int hops = 0;; hops++) {
        errno = 0;
        if (lstat(cur, st) != 0) {
            if (errno == ENOENT) break;
            nnp_status r = nnpi_io_error(who, path, "cannot stat", errno);
            nnpi_free(cur);
            return r;
        }
        if (!S_ISLNK(st->st_mode)) {
            *exists = 1;
            break;
        }
        char *link = hops < LINK_HOPS ? read_link(cur) : NULL;
        if (link == NULL) {
            nnp_status r = hops < LINK_HOPS && errno == ENOMEM
                               ? nnpi_error(NNP_ENOMEM, "%s: %s: out of memory", who, path)
                               : nnpi_io_error(who, path, "cannot follow the symbolic link",
                                           hops < LINK_HOPS ? errno : ELOOP);
            nnpi_free(cur);
            return r;
        }
        /* /dev/stdout and /dev/fd/N lead into /proc's magic links, whose text is not a path to
         * rename over (the shell holds the file open): write through the original name. */
        if (strncmp(link, "/proc/", 6) == 0) {
            nnpi_free(link);
            nnpi_free(cur);
            *in_place = 1;
            *target = dup_str(path);
            return *target ? NNP_OK : nnpi_error(NNP_ENOMEM, "%s: %s: out of memory", who, path);
        }
        const char *slash = strrchr(cur, '/');
        size_t dir_len = link[0] == '/' || slash == NULL ? 0 : (size_t)(slash - cur) + 1;
        char *next = nnpi_malloc(dir_len + strlen(link) + 1);
        if (next != NULL) {
            memcpy(next, cur, dir_len);
            strcpy(next + dir_len, link);
        }
        nnpi_free(link);
        nnpi_free(cur);
        if (next == NULL) return nnpi_error(NNP_ENOMEM, "%s: %s: out of memory", who, path);
        cur = next;
    }
    if (*exists && !S_ISREG(st->st_mode)) { /* changed since stat(): let the open decide */
        nnpi_free(cur);
        *in_place = 1;
        *target = dup_str(path);
        return *target ? NNP_OK : nnpi_error(NNP_ENOMEM, "%s: %s: out of memory", who, path);
    }
    *target = cur;
    return NNP_OK;
}

static void wfile_free(nnpi_wfile *w)
{
    nnpi_free(w->path);
    nnpi_free(w->target);
    nnpi_free(w->tmp);
    nnpi_free(w);
}

/* Creates "<target>.tmp<pid>.<n>" exclusively: in the target's directory, so that rename()
 * stays within one file system; mode 0666 less the umask (the kernel applies it), as fopen. */
static nnp_status make_tmp(nnpi_wfile *w)
{
    static _Atomic unsigned long counter = 0;
    size_t cap = strlen(w->target) + 64;
    w->tmp = nnpi_malloc(cap);
    if (w->tmp == NULL) return nnpi_error(NNP_ENOMEM, "%s: %s: out of memory", w->who, w->path);
    for (int attempt = 0; attempt < TMP_TRIES; attempt++) {
        snprintf(w->tmp, cap, "%s.tmp%ld.%lu", w->target, (long)getpid(), counter++);
        errno = 0;
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (w->fd >= 0) return NNP_OK;
        if (errno != EEXIST) break;
    }
    nnp_status st = nnpi_io_error(w->who, w->path, "cannot create a temporary file next to it",
                              errno == EEXIST ? EEXIST : errno);
    nnpi_free(w->tmp);
    w->tmp = NULL;
    return st;
}

nnp_status nnpi_wfile_open(const char *who, const char *path, nnpi_wfile **out)
{
    *out = NULL;
    nnpi_wfile *w = nnpi_calloc(1, sizeof *w);
    if (w == NULL) return nnpi_error(NNP_ENOMEM, "%s: %s: out of memory", who, path);
    w->who = who;
    w->fd = -1;
    w->path = dup_str(path);
    if (w->path == NULL) {
        wfile_free(w);
        return nnpi_error(NNP_ENOMEM, "%s: %s: out of memory", who, path);
    }
    struct stat st;
    int exists;
    nnp_status s = resolve(who, path, &w->target, &w->in_place, &st, &exists);
    if (s != NNP_OK) {
        wfile_free(w);
        return s;
    }
    if (w->in_place) {
        /* No O_TRUNC (meaningless or refused on devices) and no O_CREAT (it exists; if it
         * vanished since, creating a regular file here would bypass the atomic path). */
        errno = 0;
        w->fd = open(w->target, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (w->fd < 0) {
            s = nnpi_io_error(who, path, "cannot open for writing", errno);
            wfile_free(w);
            return s;
        }
        *out = w;
        return NNP_OK;
    }
    if ((s = make_tmp(w)) != NNP_OK) {
        wfile_free(w);
        return s;
    }
    if (exists) {
        /* Keep the old file's permissions (a 0600 file stays private) and, where allowed, its
         * group and owner; only root may give a file away, so a failing chown is no error. */
        if (fchmod(w->fd, st.st_mode & 07777) != 0) {
            s = nnpi_io_error(who, path, "cannot set the temporary file's mode", errno);
            nnpi_wfile_abort(w);
            return s;
        }
        if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
            fchown(w->fd, st.st_uid, st.st_gid) != 0 && st.st_gid != getegid())
            (void)!fchown(w->fd, (uid_t)-1, st.st_gid);
    }
    *out = w;
    return NNP_OK;
}

nnp_status nnpi_wfile_write(nnpi_wfile *w, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n > 0) {
        size_t k = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        errno = 0;
        ssize_t got = write(w->fd, p, k);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            int e = got < 0 ? errno : EIO;
            char e_text[ERRNO_CAP];
            if (strerror_r(e, e_text, sizeof e_text) != 0) snprintf(e_text, sizeof e_text, "?");
            if (w->tmp != NULL) /* the old file is intact: say where the bytes were going */
                return nnpi_error(NNP_EIO, "%s: %s: write error on temporary file %s: %s",
                                  w->who, w->path, w->tmp, e_text);
            return nnpi_error(NNP_EIO, "%s: %s: write error: %s", w->who, w->path, e_text);
        }
        p += got;
        n -= (size_t)got;
    }
    return NNP_OK;
}

/* Best effort: makes the rename itself durable. A failure loses nothing already written. */
static void sync_dir(const char *target)
{
    const char *slash = strrchr(target, '/');
    char dir[4096];
    if (slash == NULL) snprintf(dir, sizeof dir, ".");
    else if (slash == target) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - target) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - target), target);
    else return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

nnp_status nnpi_wfile_commit(nnpi_wfile *w)
{
    nnp_status s = NNP_OK;
    errno = 0;
    if (fsync(w->fd) != 0 && !(w->in_place && (errno == EINVAL || errno == EROFS)))
        s = nnpi_io_error(w->who, w->path, "fsync failed", errno);
    int fd = w->fd;
    w->fd = -1;
    errno = 0;
    if (close(fd) != 0 && errno != EINTR && s == NNP_OK)
        s = nnpi_io_error(w->who, w->path, "close failed", errno);
    if (s == NNP_OK && w->tmp != NULL) {
        errno = 0;
        if (rename(w->tmp, w->target) != 0) {
            s = nnpi_io_error(w->who, w->path, "cannot rename the temporary file over it", errno);
        } else {
            sync_dir(w->target);
            nnpi_free(w->tmp);
            w->tmp = NULL;
        }
    }
    nnpi_wfile_abort(w);
    return s;
}

void nnpi_wfile_abort(nnpi_wfile *w)
{
    if (w == NULL) return;
    if (w->fd >= 0) close(w->fd);
    if (w->tmp != NULL) unlink(w->tmp); /* only ever our own temporary file */
    wfile_free(w);
}

nnp_status nnpi_wfile_check(const char *who, const char *path)
{
    char *target;
    int in_place, exists;
    struct stat st;
    NNPI_TRY(resolve(who, path, &target, &in_place, &st, &exists));
    nnp_status s = NNP_OK;
    if (in_place) {
        errno = 0;
        if (access(target, W_OK) != 0) s = nnpi_io_error(who, path, "not writable", errno);
        nnpi_free(target);
        return s;
    }
    /* Replaced by rename: what counts is the directory it is created in. */
    const char *slash = strrchr(target, '/');
    size_t len = slash == NULL ? 0 : slash == target ? 1 : (size_t)(slash - target);
    char *dir = nnpi_malloc(len + 2);
    if (dir == NULL) {
        nnpi_free(target);
        return nnpi_error(NNP_ENOMEM, "%s: %s: out of memory", who, path);
    }
    if (len == 0) strcpy(dir, ".");
    else {
        memcpy(dir, target, len);
        dir[len] = '\0';
    }
    struct stat ds;
    errno = 0;
    if (stat(dir, &ds) != 0)
        s = nnpi_io_error(who, path, "its directory does not exist or cannot be read", errno);
    else if (!S_ISDIR(ds.st_mode))
        s = nnpi_io_error(who, path, "its directory is not a directory", ENOTDIR);
    else if (access(dir, W_OK | X_OK) != 0)
        s = nnpi_io_error(who, path, "its directory is not writable", errno);
    nnpi_free(dir);
    nnpi_free(target);
    return s;
}
