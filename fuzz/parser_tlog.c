/*  Fuzz target: the tlog importer and its bounded JSON reader (agent/import_json.c). Every
    record it makes must be valid. */
#include "import.h"
#include "l3_log.h"

#include <stdlib.h>
#include <unistd.h>

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
    l3_import_opts_t o = {.format = L3_IMPORT_TLOG, .output_cap = 256, .on_record = s_on_record};
    l3_import_buffer(data, size, "fuzz.tlog", 0, &o);
    return 0;
}
