/*  Fuzz target: an importer (asciicast v2 or tlog JSON, chosen by L3_FUZZ_FORMAT at build
    time: one source, two targets with their own corpora) and the bounded JSON reader
    under it (agent/import_json.c). Every record it makes must be valid. */
#include "import.h"
#include "l3_log.h"

#include <stdlib.h>
#include <unistd.h>

#ifndef L3_FUZZ_FORMAT
#error "build with -DL3_FUZZ_FORMAT=L3_IMPORT_ASCIICAST or L3_IMPORT_TLOG"
#endif

static void s_on_record(void *arg, l3_record_t *rec)
{
    (void) arg;
    l3_text_set(rec->agent, sizeof(rec->agent), "fuzz");
    rec->epoch = 1;
    rec->seq = 1;
    char err[128];
    if (!l3_record_validate(rec, err, sizeof(err)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        l3_log_init("fuzz_import", false, L3_LOG_ERROR); /* skipped-line warnings expected */
        quiet = true;
    }
    l3_import_opts_t o = {.format = L3_FUZZ_FORMAT, .output_cap = 256, .on_record = s_on_record};
    l3_import_buffer(data, size, "fuzz.import", 0, &o);
    return 0;
}
