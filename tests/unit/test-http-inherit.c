/* SPDX-License-Identifier: MIT */
/* Tests for socket activation (src/http/inherit.c): the listeners a service
 * manager hands over at fd 3 on, by LISTEN_PID/LISTEN_FDS; another
 * process's variables ignored (and removed); what is refused: a bad count,
 * a socket that does not listen, a datagram socket, two TCP listeners. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/core.h"
#include "http/http.h"

/* A listening TCP socket on 127.0.0.1 (a free port) placed at fd at. */
static int tcp_at(int at, bool listening, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (listening) {
        assert_int_equal(listen(fd, 8), 0);
    }
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    if (fd != at) { /* socket() may have given at itself */
        assert_int_equal(dup2(fd, at), at);
        close(fd);
    }
    return at;
}

static int unix_at(int at, const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%.100s", path);
    unlink(path);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    if (fd != at) { /* socket() may have given at itself */
        assert_int_equal(dup2(fd, at), at);
        close(fd);
    }
    return at;
}

static void env(const char *pid, const char *fds)
{
    char me[32];
    snprintf(me, sizeof(me), "%ld", (long)getpid());
    setenv("LISTEN_PID", pid != NULL ? pid : me, 1);
    setenv("LISTEN_FDS", fds, 1);
    setenv("LISTEN_FDNAMES", "http:cli", 1);
}

static void takes_tcp_and_unix(void **state)
{
    AD_UNUSED(state);
    int port;
    char path[] = "/tmp/agentd-inherit-XXXXXX";
    assert_non_null(mkdtemp(path));
    char sock[128];
    snprintf(sock, sizeof(sock), "%s/s", path);
    tcp_at(3, true, &port);
    unix_at(4, sock);
    env(NULL, "2");
    ad_listen_fds_t l;
    char err[256] = "";
    int rc = ad_listen_fds_take(&l, err, sizeof(err));
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(l.tcp_fd, 3);
    assert_string_equal(l.host, "127.0.0.1");
    assert_int_equal(l.port, port);
    assert_int_equal(l.unix_fd, 4);
    assert_string_equal(l.unix_path, sock);
    assert_null(getenv("LISTEN_PID")); /* nothing agentd starts sees them */
    assert_null(getenv("LISTEN_FDS"));
    assert_null(getenv("LISTEN_FDNAMES"));
    assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
    close(3);
    close(4);
    unlink(sock);
    rmdir(path);
}

static void another_process_s_are_ignored(void **state)
{
    AD_UNUSED(state);
    env("1", "2");
    ad_listen_fds_t l;
    char err[256] = "";
    assert_int_equal(ad_listen_fds_take(&l, err, sizeof(err)), 0);
    assert_int_equal(l.tcp_fd, -1);
    assert_int_equal(l.unix_fd, -1);
    assert_null(getenv("LISTEN_FDS"));
    unsetenv("LISTEN_PID");
    assert_int_equal(ad_listen_fds_take(&l, err, sizeof(err)), 0); /* none at all */
    assert_int_equal(l.tcp_fd, -1);
}

static void refusals(void **state)
{
    AD_UNUSED(state);
    ad_listen_fds_t l;
    char err[256] = "";
    env(NULL, "many");
    assert_int_equal(ad_listen_fds_take(&l, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "LISTEN_FDS"));

    int port;
    tcp_at(3, false, &port); /* bound, not listening */
    env(NULL, "1");
    assert_int_equal(ad_listen_fds_take(&l, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "not a listening stream socket"));
    close(3);

    int u = socket(AF_INET, SOCK_DGRAM, 0);
    if (u != 3) {
        assert_int_equal(dup2(u, 3), 3);
        close(u);
    }
    env(NULL, "1");
    assert_int_equal(ad_listen_fds_take(&l, err, sizeof(err)), AD_EINVAL);
    close(3);

    tcp_at(3, true, &port);
    tcp_at(4, true, &port);
    env(NULL, "2");
    assert_int_equal(ad_listen_fds_take(&l, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "two inherited TCP listeners"));
    close(3);
    close(4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(takes_tcp_and_unix),
        cmocka_unit_test(another_process_s_are_ignored),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
