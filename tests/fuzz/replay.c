/* Runs a libFuzzer target over the files of its seed corpus without libFuzzer (any
 * compiler): the corpus becomes a regression test in every build, and under ASan in
 * the sanitizer build. Usage: fuzz_<target> <file or folder>... */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return perror(path), 1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) return fclose(f), perror(path), 1;
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    size_t got = buf ? fread(buf, 1, n, f) : 0;
    fclose(f);
    if (!buf || got != n) return free(buf), fprintf(stderr, "%s: cannot read\n", path), 1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    long replayed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) return perror(argv[i]), 1;
        if (!S_ISDIR(st.st_mode)) {
            if (replay_file(argv[i])) return 1;
            replayed++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) return perror(argv[i]), 1;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (replay_file(path)) return closedir(d), 1;
            replayed++;
        }
        closedir(d);
    }
    printf("replayed %ld inputs\n", replayed);
    return replayed ? 0 : 1; /* an empty corpus is a mistake */
}
