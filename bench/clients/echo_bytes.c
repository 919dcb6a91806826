/* echo_bytes: uploads a deterministic pseudo-random body to an echo server and checks that every
 * byte comes back, in order, while measuring throughput. Two threads: one sends, one receives
 * and verifies, so a server that streams (reads a piece, writes it back) and one that reads the
 * whole body first both work.
 *
 *   echo_bytes [--tls CA_FILE [--ciphersuites LIST]] HOST PORT BYTES cl|chunked
 *
 * The stream is made of 256 KiB blocks: block b is a fixed random 256 KiB table XOR a 64-bit key
 * splitmix64(b), so a lost, repeated, shifted or reordered piece is caught. It is generated before
 * the clock starts into a memfd, which the sender hands to the kernel with sendfile (no copy: the
 * client must cost less than the server, whose copies it mirrors) and the receiver compares
 * against with memcmp. "cl" sends Content-Length: BYTES, "chunked" sends 256 KiB chunks. The
 * response may be Content-Length, chunked or close-delimited.
 *
 * --tls speaks TLS (OpenSSL), verifying the server's certificate against CA_FILE and HOST. One
 * SSL object must not be used by two threads at once, so TLS runs in one thread instead: a
 * non-blocking loop that writes the body with SSL_write from the same memory while reading and
 * checking what comes back. --ciphersuites sets the TLS 1.3 suites offered (OpenSSL's default:
 * TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256), and the line
 * printed names the version, suite and key-exchange group the server chose.
 * Prints one line of key=value pairs; exit 0 when the bytes matched, 1 when not, 2 on errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
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

static int format_head(char *head, size_t size) {
  int n = snprintf(head, size, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n%s",
                   host_header, chunked_upload ? "Transfer-Encoding: chunked\r\n\r\n" : "");
  if (!chunked_upload) n += snprintf(head + n, size - (size_t)n, "Content-Length: %" PRIu64 "\r\n\r\n", total);
  return n;
}

static void *sender(void *arg) {
  (void)arg;
  char head[512];
  int n = format_head(head, sizeof head);
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

/* The response, parsed as it arrives in buf: take() is handed what the last read appended. */
static char buf[1 << 20];
static size_t have;
static int status;
static enum framing framing = UNTIL_CLOSE;
static uint64_t length, chunk_left;
static enum chunk_state cs = SIZE;
static size_t line_len;
static bool head_done, complete;
static const char *error;
static double t_first;

static void take(size_t r) {
  have += r;
  char *p = buf;
  size_t n = have;
  if (!head_done) {
    char *end = memmem(buf, have, "\r\n\r\n", 4);
    if (!end) {
      if (have == sizeof buf) error = "response head too large";
      return;
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
          if (v < 0) { error = "bad chunk size"; return; }
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

/* The end of the stream (or a read error, `reason`): complete only when the response was
 * close-delimited. */
static void take_end(const char *reason) {
  if (!reason && head_done && framing == UNTIL_CLOSE) complete = true;
  else error = reason ? reason : "connection closed early";
}


/* TLS: one thread, one non-blocking loop (see the top). The upload is a list of pieces: the head,
 * then the body straight from the stream's memory (for chunked, each 256 KiB block between its
 * size line and CRLF). */
static SSL *ssl;
static char tls_error[256];

static const char *ssl_failure(int ssl_error) {
  unsigned long code = ERR_get_error();
  if (code) ERR_error_string_n(code, tls_error, sizeof tls_error);
  else if (ssl_error == SSL_ERROR_SYSCALL && errno) snprintf(tls_error, sizeof tls_error, "%s", strerror(errno));
  else snprintf(tls_error, sizeof tls_error, "TLS error %d", ssl_error);
  return tls_error;
}

static void tls_exchange(void) {
  char head[512], size_line[32];
  const char *piece = head; /* what SSL_write is writing now */
  size_t piece_left = (size_t)format_head(head, sizeof head);
  int stage = 0; /* 0 head, 1 size line, 2 block, 3 block's CRLF, 4 last chunk, 5 all sent */
  uint64_t off = 0;  /* of the current block */
  size_t block_len = 0;
  while (!complete && !error) {
    bool progress = false;
    short events = 0;
    for (;;) { /* read what is there */
      size_t n = 0;
      ERR_clear_error();
      int ok = SSL_read_ex(ssl, buf + have, sizeof buf - have, &n);
      if (ok) {
        progress = true;
        take(n);
        if (complete || error) return;
        continue;
      }
      int e = SSL_get_error(ssl, ok);
      if (e == SSL_ERROR_WANT_READ) events |= POLLIN;
      else if (e == SSL_ERROR_WANT_WRITE) events |= POLLOUT;
      else if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0)) take_end(NULL);
      else take_end(ssl_failure(e));
      break;
    }
    if (complete || error) return;
    /* Write at most 1 MiB before reading again: the answer must keep flowing. */
    for (size_t burst = 0; stage < 5 && burst < (1 << 20);) {
      if (piece_left == 0) { /* the next piece */
        if (stage == 1) {
          stage = 2, piece = stream + off, piece_left = block_len;
        } else if (stage == 2 && chunked_upload) {
          stage = 3, piece = "\r\n", piece_left = 2;
        } else {
          if (stage == 2 || stage == 3) off += block_len;
          if (stage == 4 || (!chunked_upload && off >= total)) {
            stage = 5;
            break;
          }
          if (off >= total) {
            stage = 4, piece = "0\r\n\r\n", piece_left = 5;
            continue;
          }
          block_len = total - off < BLOCK ? (size_t)(total - off) : BLOCK;
          if (chunked_upload) {
            stage = 1, piece = size_line, piece_left = (size_t)snprintf(size_line, sizeof size_line, "%zx\r\n", block_len);
          } else {
            stage = 2, piece = stream + off, piece_left = block_len;
          }
        }
        continue;
      }
      size_t n = 0;
      ERR_clear_error();
      int ok = SSL_write_ex(ssl, piece, piece_left, &n);
      if (ok) {
        progress = true;
        piece += n, piece_left -= n, burst += n;
        if (stage == 2) sent_bytes += n;
        continue;
      }
      int e = SSL_get_error(ssl, ok);
      if (e == SSL_ERROR_WANT_WRITE) events |= POLLOUT;
      else if (e == SSL_ERROR_WANT_READ) events |= POLLIN;
      else {
        send_errno = errno ? errno : EPROTO;
        stage = 5; /* what was sent is what the answer is checked against */
      }
      break;
    }
    if (progress) continue;
    struct pollfd pfd = {.fd = fd, .events = events ? events : POLLIN};
    int ready = poll(&pfd, 1, 60000);
    if (ready == 0) error = "no progress for 60 s";
    else if (ready < 0 && errno != EINTR) error = strerror(errno);
  }
}

int main(int argc, char **argv) {
  const char *ca_file = NULL, *ciphersuites = NULL;
  while (argc > 1 && !strncmp(argv[1], "--", 2)) {
    if (argc > 2 && !strcmp(argv[1], "--tls")) ca_file = argv[2];
    else if (argc > 2 && !strcmp(argv[1], "--ciphersuites")) ciphersuites = argv[2];
    else argc = 0; /* usage */
    if (argc) argc -= 2, argv += 2;
  }
  if (argc != 5 || (strcmp(argv[4], "cl") && strcmp(argv[4], "chunked")) || (ciphersuites && !ca_file)) {
    fprintf(stderr, "usage: echo_bytes [--tls CA_FILE [--ciphersuites LIST]] HOST PORT BYTES cl|chunked\n");
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
  SSL_CTX *ctx = NULL;
  if (ca_file) {
    ctx = SSL_CTX_new(TLS_client_method());
    struct in6_addr ip;
    bool is_ip = inet_pton(AF_INET, argv[1], &ip) == 1 || inet_pton(AF_INET6, argv[1], &ip) == 1;
    if (!ctx || SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1 ||
        (ciphersuites && SSL_CTX_set_ciphersuites(ctx, ciphersuites) != 1) || !(ssl = SSL_new(ctx)) ||
        !(is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), argv[1]) : SSL_set1_host(ssl, argv[1]))) {
      fprintf(stderr, "echo_bytes: TLS setup: %s\n", ssl_failure(0));
      return 2;
    }
    SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    /* A server's close without close_notify ends a close-delimited response like a FIN. */
    SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_set_read_ahead(ssl, 1);
    if (!is_ip) SSL_set_tlsext_host_name(ssl, argv[1]);
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* The head and the body leave as separate records: Nagle would hold the second. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    SSL_set_fd(ssl, fd);
    int done = SSL_connect(ssl); /* blocking: the handshake is not what is measured */
    if (done != 1) {
      fprintf(stderr, "echo_bytes: TLS handshake with %s: %s\n", hh, ssl_failure(SSL_get_error(ssl, done)));
      return 2;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    tls_exchange();
  } else {
    pthread_t th;
    pthread_create(&th, NULL, sender, NULL);
    while (!complete && !error) {
      ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) take_end(r == 0 ? NULL : strerror(errno));
      else take((size_t)r);
    }
    /* The sender may still be blocked if the server stopped reading: unblock it. */
    if (!complete || first_mismatch >= 0) shutdown(fd, SHUT_RDWR);
    pthread_join(th, NULL);
  }
  double t1 = now_s();
  char tls_text[200] = "";
  if (ssl) {
    int group = SSL_get_negotiated_group(ssl);
    snprintf(tls_text, sizeof tls_text, " tls=%s cipher=%s group=%s", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl), group ? OBJ_nid2sn(group & ~TLSEXT_nid_unknown) : "none");
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
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
         " client_cpu_s=%.2f%s error=%s\n",
         argv[4], status, framing == BY_LENGTH ? "content-length" : framing == CHUNKED ? "chunked" : "close",
         sent_bytes, got, matched ? "yes" : "no", first_mismatch, secs, t_first ? t_first - t0 : -1.0,
         (double)got / secs / 1e9, cpu, tls_text, error ? error : (send_errno ? strerror(send_errno) : "none"));
  return error ? 2 : matched ? 0 : 1;
}
