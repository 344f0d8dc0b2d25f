/*  l3_port — a free TCP port on 127.0.0.1 for a test's daemon, shared by every C test.

    Chosen at random below the kernel's ephemeral range (32768-60999 by default): a port
    the kernel handed out for "port 0" is free only until the next outgoing connect(),
    which may take it as its local port before the daemon under test binds it — the
    cause of rare "Address already in use" failures. Random, because tests run in
    parallel. Checked by binding it. -1 when none is found. */
#ifndef L3_PORT_H
#define L3_PORT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int l3_test_free_port(void)
{
    for (int attempt = 0; attempt < 500; attempt++) {
        uint16_t r;
        if (getrandom(&r, sizeof r, 0) != sizeof r)
            return -1;
        int port = 20000 + r % 12000; // 20000..31999
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return port;
    }
    return -1;
}

#endif
