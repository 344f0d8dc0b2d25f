/*  conns — each agent key's records connection, to cut a removed key's. See conns.h. */
#include "conns.h"
#include "l3_log.h"

#include <czmq.h>
#include <string.h>
#include <sys/socket.h>

typedef struct {
    int fd;
    struct sockaddr_storage peer;
    socklen_t peer_len;
} s_conn_t;

static void s_conn_destroy(s_conn_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

struct conns_t {
    zhashx_t *by_id; /* agent id -> s_conn_t */
    zhashx_t *by_fd; /* "fd" -> agent id, to forget a connection libzmq closed */
};

conns_t *conns_new(void)
{
    conns_t *self = zmalloc(sizeof *self);
    if (!self || !(self->by_id = zhashx_new()) || !(self->by_fd = zhashx_new())) {
        conns_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->by_id, (zhashx_destructor_fn *)s_conn_destroy);
    zhashx_set_destructor(self->by_fd, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator(self->by_fd, (zhashx_duplicator_fn *)strdup);
    return self;
}

void conns_destroy(conns_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->by_id);
    zhashx_destroy(&(*self_p)->by_fd);
    free(*self_p);
    *self_p = NULL;
}

void conns_note(conns_t *self, const char *id, int fd)
{
    s_conn_t *conn = zhashx_lookup(self->by_id, id);
    if (fd < 0 || (conn && conn->fd == fd))
        return;
    if (!conn) {
        if (zhashx_size(self->by_id) >= CONNS_MAX || !(conn = zmalloc(sizeof *conn)))
            return;
        zhashx_insert(self->by_id, id, conn);
    }
    conn->fd = fd;
    conn->peer_len = sizeof conn->peer;
    char key[16];
    snprintf(key, sizeof key, "%d", fd);
    if (getpeername(fd, (struct sockaddr *)&conn->peer, &conn->peer_len) != 0)
        zhashx_delete(self->by_id, id);
    else
        zhashx_update(self->by_fd, key, (void *)id);
}

void conns_forget_fd(conns_t *self, int fd)
{
    char key[16];
    snprintf(key, sizeof key, "%d", fd);
    const char *id = zhashx_lookup(self->by_fd, key);
    s_conn_t *conn = id ? zhashx_lookup(self->by_id, id) : NULL;
    if (conn && conn->fd == fd)
        zhashx_delete(self->by_id, id);
    zhashx_delete(self->by_fd, key);
}

size_t conns_cut_removed(conns_t *self, keyring_t *keyring)
{
    size_t cut = 0;
    zlist_t *gone = zlist_new();
    if (!gone)
        return 0;
    zlist_autofree(gone);
    for (s_conn_t *conn = zhashx_first(self->by_id); conn; conn = zhashx_next(self->by_id)) {
        const char *id = zhashx_cursor(self->by_id);
        if (keyring_lookup(keyring, id))
            continue;
        struct sockaddr_storage now;
        socklen_t len = sizeof now;
        if (getpeername(conn->fd, (struct sockaddr *)&now, &len) == 0 && len == conn->peer_len &&
            memcmp(&now, &conn->peer, len) == 0 && shutdown(conn->fd, SHUT_RDWR) == 0) {
            cut++;
            l3_info("closed the records connection of agent %s: its key is no longer in "
                    "allowed_keys",
                    id);
        }
        zlist_append(gone, (void *)id);
    }
    for (const char *id = zlist_first(gone); id; id = zlist_next(gone)) {
        s_conn_t *conn = zhashx_lookup(self->by_id, id);
        char key[16];
        snprintf(key, sizeof key, "%d", conn->fd);
        zhashx_delete(self->by_fd, key);
        zhashx_delete(self->by_id, id);
    }
    zlist_destroy(&gone);
    return cut;
}
