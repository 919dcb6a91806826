/* echo_bytes: uploads a deterministic pseudo-random body to an echo server and checks that every
 * byte comes back, in order, while measuring throughput. Two threads: one sends, one receives
 * and verifies, so a server that streams (reads a piece, writes it back) and one that reads the
 * whole body first both work.
 *
 *   echo_bytes HOST PORT BYTES cl|chunked
 *
 * The stream is made of 256 KiB blocks: block b is a fixed random 256 KiB table XOR a 64-bit key
 * splitmix64(b), so a lost, repeated, shifted or reordered piece is caught. It is generated before
 * the clock starts into a memfd, which the sender hands to the kernel with sendfile (no copy: the
 * client must cost less than the server, whose copies it mirrors) and the receiver compares
 * against with memcmp. "cl" sends Content-Length: BYTES, "chunked" sends 256 KiB chunks. The
 * response may be Content-Length, chunked or close-delimited.
 * Prints one line of key=value pairs; exit 0 when the bytes matched, 1 when not, 2 on errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (256 * 1024)
#define WORDS (BLOCK / 8)

static uint64_t table[WORDS];

static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static void fill_block(uint64_t b, uint64_t *out) {
  uint64_t key = splitmix64(b ^ 0x5eedULL);
  for (size_t i = 0; i < WORDS; i++) out[i] = table[i] ^ key;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fd;        /* the connection */
static int stream_fd; /* memfd holding the whole body */
static const char *stream;
static uint64_t total;
static bool chunked_upload;
static const char *host_header;
static uint64_t sent_bytes;
static int send_errno;

static int send_all(const void *p, size_t n, int flags) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL | flags);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static int sendfile_all(uint64_t off, size_t n) {
  off_t o = (off_t)off;
  while (n > 0) {
    ssize_t w = sendfile(fd, stream_fd, &o, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    n -= (size_t)w;
  }
  return 0;
}

static void *sender(void *arg) {
  (void)arg;
  char head[512];
  int n = snprintf(head, sizeof head,
                   "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n%s",
                   host_header, chunked_upload ? "Transfer-Encoding: chunked\r\n\r\n" : "");
  if (!chunked_upload)
    n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %" PRIu64 "\r\n\r\n", total);
  if (send_all(head, (size_t)n, MSG_MORE) < 0) goto fail;
  for (uint64_t off = 0; off < total; off += BLOCK) {
    size_t len = total - off < BLOCK ? (size_t)(total - off) : BLOCK;
    if (chunked_upload) {
      char size_line[32];
      int sl = snprintf(size_line, sizeof size_line, "%s%zx\r\n", off ? "\r\n" : "", len);
      if (send_all(size_line, (size_t)sl, MSG_MORE) < 0) goto fail;
    }
    if (sendfile_all(off, len) < 0) goto fail;
    sent_bytes = off + len;
  }
  if (chunked_upload && send_all(total ? "\r\n0\r\n\r\n" : "0\r\n\r\n", total ? 7 : 5, 0) < 0) goto fail;
  return NULL;
fail:
  send_errno = errno;
  return NULL;
}

/* Receiving side: the response body, whatever its framing, goes through verify(). */
static uint64_t got; /* body bytes received */
static int64_t first_mismatch = -1;

static void verify(const char *p, size_t n) {
  if (first_mismatch < 0) {
    if (got + n > total) {
      first_mismatch = (int64_t)total; /* more than was sent */
    } else if (memcmp(p, stream + got, n) != 0) {
      size_t i = 0;
      while (p[i] == stream[got + i]) i++;
      first_mismatch = (int64_t)(got + i);
    }
  }
  got += n;
}

enum framing { BY_LENGTH, CHUNKED, UNTIL_CLOSE };
enum chunk_state { SIZE, EXT, DATA, DATA_CRLF, TRAILER, DONE };

int main(int argc, char **argv) {
  if (argc != 5 || (strcmp(argv[4], "cl") && strcmp(argv[4], "chunked"))) {
    fprintf(stderr, "usage: echo_bytes HOST PORT BYTES cl|chunked\n");
    return 2;
  }
  total = strtoull(argv[3], NULL, 10);
  chunked_upload = strcmp(argv[4], "chunked") == 0;
  char hh[300];
  snprintf(hh, sizeof hh, "%s:%s", argv[1], argv[2]);
  host_header = hh;
  for (size_t i = 0; i < WORDS; i++) table[i] = splitmix64(i + 0x7ab1eULL);
  stream_fd = memfd_create("echo_bytes", MFD_CLOEXEC);
  if (stream_fd < 0 || ftruncate(stream_fd, (off_t)total) < 0) {
    fprintf(stderr, "echo_bytes: cannot make a %" PRIu64 "-byte memfd: %s\n", total, strerror(errno));
    return 2;
  }
  if (total > 0) {
    char *map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, stream_fd, 0);
    if (map == MAP_FAILED) {
      fprintf(stderr, "echo_bytes: mmap: %s\n", strerror(errno));
      return 2;
    }
    static uint64_t block[WORDS];
    for (uint64_t off = 0, b = 0; off < total; off += BLOCK, b++) {
      fill_block(b, block);
      memcpy(map + off, block, total - off < BLOCK ? (size_t)(total - off) : BLOCK);
    }
    stream = map;
  }
  signal(SIGPIPE, SIG_IGN);
  alarm(600); /* a hung server must not hang the benchmark */

  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
  if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
    fprintf(stderr, "echo_bytes: cannot resolve %s\n", hh);
    return 2;
  }
  fd = socket(ai->ai_family, SOCK_STREAM, 0);
  struct timeval tv = {.tv_sec = 60};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct rusage ru0;
  getrusage(RUSAGE_SELF, &ru0);
  double t0 = now_s();
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    fprintf(stderr, "echo_bytes: cannot connect to %s: %s\n", hh, strerror(errno));
    return 2;
  }
  freeaddrinfo(ai);
  pthread_t th;
  pthread_create(&th, NULL, sender, NULL);

  static char buf[1 << 20];
  size_t have = 0;
  int status = 0;
  enum framing framing = UNTIL_CLOSE;
  uint64_t length = 0, chunk_left = 0;
  enum chunk_state cs = SIZE;
  size_t line_len = 0;
  bool head_done = false, complete = false;
  const char *error = NULL;
  double t_first = 0;

  while (!complete) {
    ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0 && head_done && framing == UNTIL_CLOSE) complete = true;
      else error = r == 0 ? "connection closed early" : strerror(errno);
      break;
    }
    have += (size_t)r;
    char *p = buf;
    size_t n = have;
    if (!head_done) {
      char *end = memmem(buf, have, "\r\n\r\n", 4);
      if (!end) {
        if (have == sizeof buf) { error = "response head too large"; break; }
        continue;
      }
      t_first = now_s();
      *end = '\0';
      status = atoi(strchr(buf, ' ') ? strchr(buf, ' ') + 1 : "0");
      for (char *line = strstr(buf, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (!strncasecmp(h, "content-length:", 15)) {
          framing = BY_LENGTH;
          length = strtoull(h + 15, NULL, 10);
        } else if (!strncasecmp(h, "transfer-encoding:", 18) && strcasestr(h, "chunked")) {
          framing = CHUNKED;
        }
      }
      head_done = true;
      p = end + 4;
      n = have - (size_t)(p - buf);
      if (framing == BY_LENGTH && length == 0) complete = true;
    }
    if (framing == BY_LENGTH) {
      uint64_t want = length - got;
      size_t take = n < want ? n : (size_t)want;
      verify(p, take);
      if (got == length) complete = true;
    } else if (framing == UNTIL_CLOSE) {
      verify(p, n);
    } else {
      while (n > 0 && cs != DONE) {
        char c = *p;
        switch (cs) {
        case SIZE:
        case EXT:
          if (c == '\n') {
            cs = chunk_left == 0 ? TRAILER : DATA;
            line_len = 0;
          } else if (cs == SIZE && c == ';') {
            cs = EXT;
          } else if (cs == SIZE && c != '\r') {
            int v = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
            if (v < 0) { error = "bad chunk size"; goto out; }
            chunk_left = chunk_left * 16 + (uint64_t)v;
          }
          p++, n--;
          break;
        case DATA: {
          size_t take = n < chunk_left ? n : (size_t)chunk_left;
          verify(p, take);
          p += take, n -= take, chunk_left -= take;
          if (chunk_left == 0) cs = DATA_CRLF;
          break;
        }
        case DATA_CRLF:
          if (c == '\n') cs = SIZE;
          p++, n--;
          break;
        case TRAILER:
          if (c == '\n') {
            if (line_len == 0) cs = DONE;
            line_len = 0;
          } else if (c != '\r') {
            line_len++;
          }
          p++, n--;
          break;
        case DONE:
          break;
        }
      }
      if (cs == DONE) complete = true;
    }
    have = 0;
  }
out:;
  double t1 = now_s();
  /* The sender may still be blocked if the server stopped reading: unblock it. */
  if (!complete || first_mismatch >= 0) shutdown(fd, SHUT_RDWR);
  pthread_join(th, NULL);
  close(fd);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  /* Only what the transfer cost: the stream was generated before t0. */
  double cpu = (double)(ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
               (double)(ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec) + (ru.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  bool matched = complete && first_mismatch < 0 && got == total;
  double secs = t1 - t0;
  printf("upload=%s status=%d response=%s sent=%" PRIu64 " received=%" PRIu64
         " matched=%s first_mismatch=%" PRId64 " seconds=%.3f first_byte_s=%.3f gbps=%.3f"
         " client_cpu_s=%.2f error=%s\n",
         argv[4], status, framing == BY_LENGTH ? "content-length" : framing == CHUNKED ? "chunked" : "close",
         sent_bytes, got, matched ? "yes" : "no", first_mismatch, secs, t_first ? t_first - t0 : -1.0,
         (double)got / secs / 1e9, cpu, error ? error : (send_errno ? strerror(send_errno) : "none"));
  return error ? 2 : matched ? 0 : 1;
}
