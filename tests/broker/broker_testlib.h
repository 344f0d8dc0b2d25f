/*  broker_testlib — what the broker tests share: temp dirs, free ports, real l3-broker
    processes, a fake writer (PULL + PUB bound like l3-writer's) and test agents.

    Everything waits on events against a deadline (a log line appears, a message arrives,
    a process exits), never on a bare sleep. */
#ifndef BROKER_TESTLIB_H
#define BROKER_TESTLIB_H

#include "l3_buf.h"
#include "l3_msg.h"
#include <czmq.h>
#include <stdbool.h>
#include <sys/types.h>

/* A fresh directory under /tmp (removed by bt_rmtree). */
bool bt_tempdir(char *out, size_t size);
void bt_rmtree(const char *dir);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int bt_free_port(void);
/* Path of a program in L3_BIN_DIR (or ./bin). */
void bt_bin(const char *name, char *out, size_t size);

/* Start argv[0] with stdout and stderr redirected to files (NULL = /dev/null). */
pid_t bt_spawn(char *const argv[], const char *out_path, const char *err_path);
/* SIGTERM, then wait up to timeout_ms (SIGKILL after). Returns the exit status, 128+sig
   when killed by a signal, -1 when it had to be killed. */
int bt_stop(pid_t pid, int timeout_ms);
/* Wait for a process to exit on its own; exit status, or -1 on timeout (still running). */
int bt_wait_exit(pid_t pid, int timeout_ms);
bool bt_alive(pid_t pid);

/* How many times needle occurs in the file (0 when missing). */
int bt_file_count(const char *path, const char *needle);
/* Wait until the file holds needle at least n times. */
bool bt_wait_file_count(const char *path, const char *needle, int n, int timeout_ms);
/* Whole file as a NUL-terminated string (caller frees), NULL when missing. */
char *bt_file_read(const char *path);

/* The stand-in writer: PULL for [id][record] and an XPUB (a PUB that also shows us the
   subscriptions, so tests can wait for them) for [id][ack]. */
typedef struct {
    zsock_t *pull;
    zsock_t *pub;
    int port;
    int ack_port;
    zlist_t *subs; /* every subscription seen so far (verbose XPUB), as topic strings */
} bt_writer_t;

bt_writer_t *bt_writer_new(void);
void bt_writer_destroy(bt_writer_t **self_p);
/* Receive one [id][body] within timeout_ms; id and body are copied out (body owned by
   the caller's buffer, reset first). false on timeout or a wrong frame count. */
bool bt_writer_recv(bt_writer_t *self, char *id, size_t id_size, l3_buf_t *body,
                    int timeout_ms);
/* Wait until n subscriptions to topic (exact) have reached the writer. */
bool bt_writer_wait_sub(bt_writer_t *self, const char *topic, int n, int timeout_ms);
/* Publish [id][ack of (id, epoch, seq)]. */
bool bt_writer_ack(bt_writer_t *self, const char *id, uint64_t epoch, uint64_t seq);

/* A broker process with its config and log in dir. */
typedef struct {
    pid_t pid;
    int port, ack_port, capture_port;
    char cfg[512];
    char log[512];
} bt_broker_t;

/* Write dir/NAME.cfg for the writer's ports, start l3-broker, wait for "ready" in its
   log. extra is appended to the broker section (lines with 4-space indent). */
bool bt_broker_start(bt_broker_t *b, const char *dir, const char *name, bt_writer_t *writer,
                     const char *extra);
/* SIGTERM; true when it exited 0. */
bool bt_broker_stop(bt_broker_t *b);

/* An agent: PUSH to the broker's port, SUB to its ack port (subscribed to id). With
   key_path/server_pub_path the sockets are CURVE clients. */
typedef struct {
    zsock_t *push;
    zsock_t *sub;
    char id[80];
} bt_agent_t;

bt_agent_t *bt_agent_new(bt_broker_t *b, const char *id, const char *key_path,
                         const char *server_pub_path);
void bt_agent_destroy(bt_agent_t **self_p);
/* The host bt_record's records claim: CURVE tests bind their agents' keys to it. */
#define BT_HOST "lab01"
/* Encode a ~300-byte command record (or session/end for type) from host BT_HOST into out. */
void bt_record(l3_buf_t *out, l3_record_type_t type, const char *agent, uint64_t epoch,
               uint64_t seq, const char *cmd);
/* The same record claiming another host. */
void bt_record_host(l3_buf_t *out, l3_record_type_t type, const char *agent, const char *host,
                    uint64_t epoch, uint64_t seq, const char *cmd);
/* Bind the certificate file at path to host (NULL or "": unbind), as l3-keygen --bind
   does; false (said on stderr) when it fails. */
bool bt_bind(const char *cert_path, const char *host);
/* Run l3-keygen with the arguments up to the first NULL (at most 8), output to log; its
   exit status (-1 when it did not finish in 10 s). */
int bt_keygen(const char *log, ...);
/* Copy a file (a certificate into allowed_keys). */
bool bt_copy(const char *from, const char *to);
/* The agent id (hex of the public key) of a certificate file, "" when unreadable; id has
   room for L3_CURVE_ID_LEN + 1 bytes. */
void bt_id_of(const char *cert_path, char *id);
bool bt_agent_send(bt_agent_t *self, const l3_buf_t *msg);
/* Receive one ack for this agent within timeout_ms, decoded. */
bool bt_agent_recv_ack(bt_agent_t *self, l3_msg_t *ack, int timeout_ms);

#endif
