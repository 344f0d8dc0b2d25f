/*  textindex — which commands may hold a needle: a trigram index of the record lines.

    search.c scans the datafile for a needle (memmem over the raw record lines, the
    needle XML-encoded as the writer encodes byte fields). At 10 million commands that is
    8.5 GB: a query that matches little had to stop at its time budget. The textindex
    answers, for a range of commands, which ones hold every trigram of the needle; only
    those lines are read and checked, so an answer is complete in the time of its
    candidates, and a needle that matches nothing costs a few list reads.

    Layout, after Russ Cox's Google Code Search (trigrams of the text, a posting list of
    documents per trigram, the match checked on the document) and zoekt (immutable shards
    of a fixed size, searched newest first): commands are cut in segments of TI_SEG
    ordinals, each a file <index file>.search/<seg>.tri (render/index, default
    <datafile>.idx, so beside the datafile: where render may write) written once when its last command
    is indexed, and never changed. The newest commands (the segment still filling, and any
    segment not built yet) are scanned as before: that is at most TI_SEG commands (about
    55 MB), and what the writer commits is searchable as soon as render indexes it.

    A segment file: a 64-byte header; the trigram directory in blocks of TI_BLOCK entries
    (key, count, list offset, list checksum), each block's first key and checksum in a top
    table read at open; the lists, each the ascending command numbers within the segment
    as u16 (count < TI_DENSE) or a bitmap of TI_SEG bits. The text indexed is the record
    line after its start tag (attributes hold no text the journal searches) without the
    <timing> element, ASCII letters folded to lower case (so one index serves exact and
    case-insensitive queries: the check on the line decides). Everything read is checked
    (header and top table at open, a directory block and a list when read): a damaged
    segment is dropped with a warning and its commands are scanned, never trusted.

    The files are derived: deleted, they are built again from the datafile. */
#ifndef TEXTINDEX_H
#define TEXTINDEX_H

#include "index.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TI_SEG_BITS 16
#define TI_SEG (1u << TI_SEG_BITS)  /* commands per segment */
#define TI_BLOCK 256                /* directory entries per block */
#define TI_DENSE (TI_SEG / 16)      /* lists this long are bitmaps (8 KiB, never larger) */
#define TI_WORDS (TI_SEG / 64)      /* uint64_t words of a candidate bitmap */

typedef struct textindex_t textindex_t;

/* The search index in the directory <base>.search (created when missing; render's base
   is its index file). Nothing is opened yet. NULL when out of memory. */
textindex_t *textindex_new(const char *base);
void textindex_destroy(textindex_t **self_p);

/* Open the segment files of index's complete segments that are there and belong to its
   datafile (their first and last commands are where the index has them, the first line's
   bytes hash the same); a file that does not is removed. Segments opened before stay. */
void textindex_open(textindex_t *self, index_t *index);
/* Close (and remove) the open segments whose commands are no longer where index has them
   (the datafile was replaced or shortened). Cheap: no file is read. */
void textindex_check(textindex_t *self, index_t *index);
/* The first complete segment of index without a file, or UINT32_MAX when all are there. */
uint32_t textindex_missing(textindex_t *self, index_t *index);
/* Write segment seg's file (temporary file, synced, renamed). Reads its lines from the
   datafile and takes up to about 200 MB for a while: render runs it in a child. */
bool textindex_build(textindex_t *self, index_t *index, uint32_t seg);
/* Whether segment seg is open. */
bool textindex_ready(textindex_t *self, uint32_t seg);
/* The commands of segment seg whose line may hold needle (XML-encoded, as search.c looks
   for it), as bits of TI_SEG (bit i: command seg * TI_SEG + i). False when the index
   cannot say (the segment is not open or is damaged, or the needle is one byte that
   begins more than 256 trigrams of the segment): scan the segment then. A needle of one
   or two bytes gets the union of the lists of the trigrams it begins. */
bool textindex_candidates(textindex_t *self, uint32_t seg, const uint8_t *needle, size_t nlen,
                          uint64_t bits[TI_WORDS]);

/* Bytes of the segment files open, and their number (for the log and the bench). */
uint64_t textindex_bytes(textindex_t *self, uint32_t *nsegs);

#endif
