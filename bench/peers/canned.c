/* canned: the ceiling. A bare single-threaded epoll loop that answers every request with the
 * same canned bytes. It parses nothing: it counts "\r\n\r\n" (end of a request head, so a
 * pipelined batch gets one answer per request, in one write) and ignores everything else, bodies
 * included. No Date, no routing, no timeouts: whatever a real server costs beyond this is its own.
 *
 *   canned HOST:PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!";
#define RESPONSE_LEN (sizeof response - 1)
#define BATCH 256 /* responses per write; more pending ones go in the next write */

/* Per file descriptor: how far into "\r\n\r\n" the last read ended, responses owed, and how
 * much of the first owed response already left (a partial write). */
struct conn {
  unsigned char match;
  unsigned char want_out;
  size_t owed;
  size_t sent_of_first;
};

static struct conn *conns;
static size_t max_fds;
static char batch[BATCH * RESPONSE_LEN];
static volatile sig_atomic_t stopping;

static void on_signal(int sig) { (void)sig; stopping = 1; }

static void close_conn(int fd) {
  memset(&conns[fd], 0, sizeof conns[fd]);
  close(fd);
}

/* Writes what is owed. Returns 0 when done or blocked, -1 when the connection is gone. */
static int flush(int ep, int fd) {
  struct conn *c = &conns[fd];
  while (c->owed > 0) {
    size_t n = c->owed < BATCH ? c->owed : BATCH;
    size_t len = n * RESPONSE_LEN - c->sent_of_first;
    ssize_t w = send(fd, batch + c->sent_of_first, len, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return -1;
    }
    size_t done = (size_t)w + c->sent_of_first;
    c->owed -= done / RESPONSE_LEN;
    c->sent_of_first = done % RESPONSE_LEN;
  }
  int want = c->owed > 0;
  if (want != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0) return -1;
    c->want_out = (unsigned char)want;
  }
  return 0;
}

static int on_readable(int ep, int fd) {
  static const char end[] = "\r\n\r\n";
  char buf[65536];
  struct conn *c = &conns[fd];
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r == 0) return -1;
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return -1;
    }
    for (ssize_t i = 0; i < r; i++) {
      if (buf[i] == end[c->match]) {
        if (++c->match == 4) {
          c->match = 0;
          c->owed++;
        }
      } else {
        c->match = buf[i] == '\r' ? 1 : 0;
      }
    }
    if ((size_t)r < sizeof buf) break;
  }
  return flush(ep, fd);
}

int main(int argc, char **argv) {
  if (argc != 2 || !strchr(argv[1], ':')) {
    fprintf(stderr, "usage: canned HOST:PORT\n");
    return 2;
  }
  char host[256];
  const char *colon = strrchr(argv[1], ':');
  snprintf(host, sizeof host, "%.*s", (int)(colon - argv[1]), argv[1]);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &addr.sin_addr) != 1) {
    fprintf(stderr, "canned: bad IPv4 address %s\n", argv[1]);
    return 2;
  }

  /* Like Go's runtime and triserve: soft descriptor limit up to the hard one. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  max_fds = rl.rlim_cur > 1048576 ? 1048576 : rl.rlim_cur;
  conns = calloc(max_fds, sizeof *conns);
  for (size_t i = 0; i < BATCH; i++) memcpy(batch + i * RESPONSE_LEN, response, RESPONSE_LEN);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
    fprintf(stderr, "canned: cannot listen on %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  fprintf(stderr, "canned listening on %s\n", argv[1]);

  struct epoll_event events[512];
  while (!stopping) {
    int n = epoll_wait(ep, events, 512, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          if ((size_t)cfd >= max_fds) {
            close(cfd);
            continue;
          }
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
          if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev) < 0) close(cfd);
        }
        continue;
      }
      int rc = 0;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) rc = on_readable(ep, fd);
      else if (events[i].events & EPOLLOUT) rc = flush(ep, fd);
      if (rc < 0) close_conn(fd);
    }
  }
  return 0;
}
