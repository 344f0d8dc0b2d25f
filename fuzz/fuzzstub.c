/*  fuzzstub — runs a libFuzzer target over files, without libFuzzer.

    Linked with each fuzz target in every build, so the seed corpus (and every crash
    once found and added to it) is an ordinary regression test in CTest. Arguments are
    files or directories (every regular file in them, not recursive). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int s_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzzstub: %s: cannot open\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(size > 0 ? (size_t) size : 1);
    size_t got = size > 0 ? fread(data, 1, (size_t) size, f) : 0;
    fclose(f);
    LLVMFuzzerTestOneInput(data, got);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, errors = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzzstub: %s: no such file or directory\n", argv[i]);
            errors++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            errors += s_run_file(argv[i]);
            files++;
            continue;
        }
        DIR *dir = opendir(argv[i]);
        struct dirent *entry;
        while (dir && (entry = readdir(dir))) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], entry->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                errors += s_run_file(path);
                files++;
            }
        }
        if (dir)
            closedir(dir);
    }
    printf("fuzzstub: ran %d inputs\n", files);
    //  An empty corpus is a broken test, not a passing one.
    return errors || files == 0 ? 1 : 0;
}
