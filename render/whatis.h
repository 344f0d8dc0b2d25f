/*  whatis — the one-line descriptions of commands (man-db's whatis) for the journal's
    word links, loaded once instead of asked per word.

    The journal puts "ls (1) - list directory contents" in a tooltip on every command
    word. Asking `whatis WORD` per unseen word cost a process (~40 ms) per word in page
    code, and pages are made in short-lived worker processes (workers.h), which would
    have asked again and again. Instead render reads the whole database once
    (`whatis -l -w '*'`, ~23,000 lines in ~0.3 s on Debian 12) without blocking its loop:
    the child's output is read as it comes, from render's poll loop, and the table is
    used once complete. Workers forked after that see it; pages made before it show no
    tooltips. Lookups are a binary search; nothing here runs a process at page time.

    Usage:  w = whatis_new(enabled); fd = whatis_start(w) (poll it for input);
            on input: whatis_on_readable(w) (true while still loading);
            whatis_lookup(w, "ls") -> "ls (1) - list directory contents" or "".
    Memory: the table, capped at WHATIS_MAX_BYTES of text. */
#ifndef WHATIS_H
#define WHATIS_H

#include <stdbool.h>
#include <stddef.h>

#define WHATIS_MAX_BYTES (16u << 20)

typedef struct whatis_t whatis_t;

/* An empty table; disabled tables never load anything. NULL when out of memory. */
whatis_t *whatis_new(bool enabled);
/* Stop a running load (its child is killed and reaped) and free everything. */
void whatis_destroy(whatis_t **self_p);

/* Start loading: returns the descriptor to poll for input, -1 when disabled, already
   loaded, or whatis cannot run (logged once; the journal then has no tooltips). */
int whatis_start(whatis_t *self, const char *command);
/* Read what the loader printed; at its end build the table. false once done. */
bool whatis_on_readable(whatis_t *self);

/* The description line of word ("" when unknown or not loaded yet). */
const char *whatis_lookup(const whatis_t *self, const char *word);
/* Number of names in the table. */
size_t whatis_count(const whatis_t *self);

/* Build the table from whatis -l output in text (for tests); replaces any table. */
bool whatis_load_text(whatis_t *self, const char *text, size_t len);

#endif
