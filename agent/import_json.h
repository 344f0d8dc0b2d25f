/*  import_json — a small bounded JSON reader for the importers (asciicast v2 lines, tlog
    messages). Not a general library: one JSON text in, a flat array of nodes out, with
    hard caps on input length, nesting depth, node count and decoded string bytes, so no
    input can make it recurse deeply, allocate without bound or loop. Strings are decoded
    (escapes, \uXXXX with surrogate pairs) to UTF-8; a lone surrogate becomes U+FFFD. */
#ifndef L3_AGENT_IMPORT_JSON_H
#define L3_AGENT_IMPORT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define L3_JSON_TEXT_MAX (8u << 20)
#define L3_JSON_DEPTH_MAX 32
#define L3_JSON_NODES_MAX (1u << 20)

typedef enum { L3_JSON_NULL, L3_JSON_BOOL, L3_JSON_NUMBER, L3_JSON_STRING, L3_JSON_ARRAY,
               L3_JSON_OBJECT } l3_json_type_t;

typedef struct {
    l3_json_type_t type;
    bool boolean;
    double number;
    uint32_t str_off, str_len; /* STRING: decoded bytes in the doc's string pool */
    uint32_t key_off, key_len; /* member of an OBJECT: its decoded key */
    int32_t first;             /* ARRAY/OBJECT: first child, -1 when empty */
    int32_t next;              /* next sibling, -1 at the end */
    uint32_t count;            /* ARRAY/OBJECT: number of children */
} l3_json_node_t;

typedef struct l3_json_t l3_json_t;

/* Parse one JSON text (surrounding whitespace allowed). NULL with a reason in err. */
l3_json_t *l3_json_parse(const void *text, size_t len, char *err, size_t errlen);
void l3_json_destroy(l3_json_t **self_p);

/* The root node (index 0). */
const l3_json_node_t *l3_json_root(l3_json_t *self);
const l3_json_node_t *l3_json_node(l3_json_t *self, int32_t index);
/* Member `key` of an object node, or NULL. */
const l3_json_node_t *l3_json_member(l3_json_t *self, const l3_json_node_t *obj, const char *key);
/* Child i of an array node, or NULL. */
const l3_json_node_t *l3_json_item(l3_json_t *self, const l3_json_node_t *arr, uint32_t i);
/* Decoded bytes of a string node (not NUL-terminated). */
const uint8_t *l3_json_str(l3_json_t *self, const l3_json_node_t *node, size_t *len);

#endif
