/*
 * replay.c — a standalone main() for the fuzz targets, so that every
 * ordinary build (any compiler, no libFuzzer) can run inputs through them:
 *   replay_ops FILE_OR_DIR...
 *   replay_ops --absent DIR    (the build found no corpus: skip, exit 77)
 * Directories are read one level deep, in name order. Any failure aborts,
 * running out of memory included.
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef _WIN32
#include <windows.h>
#ifndef S_ISDIR /* MSVC lacks it; mingw-w64 has it */
#define S_ISDIR(m) (((m) & _S_IFMT) == _S_IFDIR)
#endif
#else
#include <dirent.h>
#endif

static long replayed;

/* xalloc is realloc that exits on failure: a replay cannot go on without. */
static void *xalloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (!q) {
        fprintf(stderr, "replay: out of memory\n");
        free(p);
        exit(1);
    }
    return q;
}

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = xalloc(NULL, cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = xalloc(buf, cap *= 2);
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    replayed++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        exit(1);
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    char **names = NULL;
    size_t count = 0;
#ifdef _WIN32
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s\\*", path);
    WIN32_FIND_DATAA found;
    HANDLE h = FindFirstFileA(pattern, &found);
    if (h == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "%s: cannot list\n", path);
        exit(1);
    }
    do {
        const char *name = found.cFileName;
#else
    DIR *dir = opendir(path);
    if (!dir) {
        perror(path);
        exit(1);
    }
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        const char *name = e->d_name;
#endif
        if (name[0] == '.')
            continue;
        names = xalloc(names, (count + 1) * sizeof *names);
        size_t len = strlen(path) + strlen(name) + 2;
        names[count] = xalloc(NULL, len);
        snprintf(names[count++], len, "%s/%s", path, name);
#ifdef _WIN32
    } while (FindNextFileA(h, &found));
    FindClose(h);
#else
    }
    closedir(dir);
#endif
    if (count)
        qsort(names, count, sizeof *names, by_name);
    for (size_t i = 0; i < count; i++) {
        run_path(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIR... | --absent DIR\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "--absent") == 0) {
        printf("%s is absent (a source distribution ships no fuzz corpus): "
               "replay skipped\n", argc > 2 ? argv[2] : "the corpus");
        return 77; /* meson: skipped */
    }
    for (int i = 1; i < argc; i++)
        run_path(argv[i]);
    printf("replayed %ld inputs\n", replayed);
    return replayed > 0 ? 0 : 1;
}
