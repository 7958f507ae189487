/*
 * loadgen: the load generator for bench/run.ts. One thread, epoll,
 * non-blocking sockets (like wrk -t1), verifying every byte it gets back.
 *
 *   loadgen tcp-pingpong --port P [--conns 1] [--size 64] [--prefix TEXT]
 *   loadgen tcp-stream   --port P [--conns 1] [--chunk 65536]          (pure echo)
 *   loadgen udp-pingpong --port P [--conns 1] [--size 64] [--prefix TEXT] [--timeout-ms 200]
 *   loadgen tcp-idle     --port P [--conns 10000] [--hold 60]
 * common: [--host 127.0.0.1] [--duration 5] [--warmup 0.5] [--seed 1] [--prime-timeout 30]
 *
 * tcp-pingpong: each connection sends one S-byte message, waits for the whole
 *   reply (prefix + message, so prefix length + S bytes), compares it byte for
 *   byte, and sends the next. Messages are printable ASCII from a seeded PRNG,
 *   different every time, so a stale or misrouted reply cannot pass.
 * tcp-stream: each connection writes a seeded pseudo-random byte stream (all
 *   256 values) in --chunk-byte writes as fast as the server takes it, reads
 *   the echo back and checks every byte against the same sequence. The stream
 *   is cheap to produce, so the load generator stays out of the way: a
 *   connection's PRNG fills one chunk-sized block once, and each successive
 *   chunk of the stream is that block rotated by a PRNG-drawn offset (a lost,
 *   repeated or shifted byte or block shows up as a mismatch). At most
 *   --inflight bytes (default 4 MiB) are sent but not yet verified.
 * udp-pingpong: one connected UDP socket per flow; each datagram carries its
 *   flow and sequence number; a reply must be prefix + datagram. No reply
 *   within --timeout-ms counts as lost and the next datagram goes out; a reply
 *   to an older datagram arriving later is counted as late and ignored.
 * tcp-idle: opens N connections, prints {"event":"connected",...}, holds them
 *   without sending until stdin reaches EOF or --hold seconds pass, then resets
 *   them (SO_LINGER 0, so no TIME_WAIT is left behind) and prints the result.
 *
 * Before measuring, every connection/flow completes one verified exchange
 * (priming: connects and server start-up are not measured), then --warmup
 * seconds run unrecorded, then --duration seconds are measured.
 *
 * Output: one JSON line on stdout. Exit 0 if no error, 1 if any verification
 * or socket error, 2 for usage errors, 3 if the server could not be reached.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 512
#define BLOCK 65536
#define STREAM_READ (256 * 1024)

enum mode { TCP_PINGPONG, TCP_STREAM, UDP_PINGPONG, TCP_IDLE };
enum phase { PRIMING, WARMUP, MEASURE, DONE };

static enum mode mode;
static const char *host = "127.0.0.1";
static int port = 0;
static int nconns = 1;
static size_t msg_size = 64;
static size_t chunk_size = BLOCK;
static size_t inflight_cap = 4u << 20;
static const char *prefix = "";
static size_t prefix_len = 0;
static double duration_s = 5, warmup_s = 0.5, hold_s = 60;
static int timeout_ms = 200;
static double prime_timeout_s = 30;
static uint64_t seed = 1;

static int ep;
static enum phase phase = PRIMING;
static uint64_t t_measure_start, t_measure_end;

/* results */
static uint64_t requests, total_requests, errors, bytes_verified, lost, late, dropped;
static uint64_t verified_total; /* including priming and warmup */
static char first_error[256];
static uint32_t *samples; /* latency in ns, measured phase only */
static size_t nsamples, samples_cap;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(const char *fmt, const char *detail) {
  errors++;
  if (!first_error[0]) snprintf(first_error, sizeof first_error, fmt, detail);
}

static void record(uint64_t ns) {
  if (phase != MEASURE) return;
  requests++;
  if (nsamples == samples_cap) {
    samples_cap = samples_cap ? samples_cap * 2 : 1 << 16;
    samples = realloc(samples, samples_cap * sizeof *samples);
    if (!samples) {
      perror("realloc");
      exit(1);
    }
  }
  samples[nsamples++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* xorshift64* — fast, seeded, the same sequence on both sides of the stream check */
static inline uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t seed_for(int i) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xBF58476D1CE4E5B9ull + 1;
  for (int k = 0; k < 4; k++) rng_next(&s);
  return s ? s : 1;
}

static void fill_random(uint64_t *s, unsigned char *dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng_next(s);
    memcpy(dst + i, &v, 8);
  }
  if (i < n) {
    uint64_t v = rng_next(s);
    memcpy(dst + i, &v, n - i);
  }
}

static void fill_printable(uint64_t *s, unsigned char *dst, size_t n) {
  static const char alphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:-_";
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if ((i & 7) == 0) v = rng_next(s);
    dst[i] = (unsigned char)alphabet[(v & 0xff) % (sizeof alphabet - 1)];
    v >>= 8;
  }
}


static struct sockaddr_in server_addr(void) {
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "loadgen: bad IPv4 address %s\n", host);
    exit(2);
  }
  return a;
}

static void ep_set(int fd, uint32_t events, uint32_t id, int op) {
  struct epoll_event ev = {.events = events, .data.u32 = id};
  if (epoll_ctl(ep, op, fd, &ev) < 0) {
    perror("epoll_ctl");
    exit(1);
  }
}

/* ---------------- TCP connections ---------------- */

struct tconn {
  int fd;
  int connected;
  int dead;
  int primed;
  int busy; /* pingpong: a request is outstanding */
  uint64_t rng, rng_verify;
  /* pingpong */
  unsigned char *expect; /* prefix + message */
  size_t expect_len, sent, got;
  uint64_t t_sent;
  /* stream: base holds the PRNG block twice, so any rotation is contiguous */
  unsigned char *base;
  size_t send_rot, send_off, verify_rot, verify_off;
  uint64_t bytes_sent, bytes_checked;
  uint32_t events;
};

static struct tconn *conns;
static int connected_count, primed_count, dead_count;

static void tconn_kill(struct tconn *c, int reset) {
  if (c->dead) return;
  c->dead = 1;
  dead_count++;
  if (c->busy) c->busy = 0;
  if (reset) {
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
}

static void tconn_events(struct tconn *c, int id, uint32_t want) {
  if (c->dead || c->events == want) return;
  c->events = want;
  ep_set(c->fd, want, (uint32_t)id, EPOLL_CTL_MOD);
}

static int open_tcp(int id) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    perror("socket");
    exit(3);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = server_addr();
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
    perror("connect");
    exit(3);
  }
  conns[id].fd = fd;
  conns[id].events = EPOLLOUT;
  ep_set(fd, EPOLLOUT, (uint32_t)id, EPOLL_CTL_ADD);
  return fd;
}

/* pingpong: send the next message */
static void pp_send(struct tconn *c, int id) {
  unsigned char *msg = c->expect + prefix_len;
  if (!c->busy) {
    fill_printable(&c->rng, msg, msg_size);
    c->busy = 1;
    c->sent = 0;
    c->got = 0;
    c->t_sent = now_ns();
  }
  while (c->sent < msg_size) {
    ssize_t w = write(c->fd, msg + c->sent, msg_size - c->sent);
    if (w < 0) {
      if (errno == EAGAIN) {
        tconn_events(c, id, EPOLLIN | EPOLLOUT);
        return;
      }
      if (errno == EINTR) continue;
      fail("write: %s", strerror(errno));
      tconn_kill(c, 0);
      return;
    }
    c->sent += (size_t)w;
  }
  tconn_events(c, id, EPOLLIN);
}

static void pp_read(struct tconn *c, int id, unsigned char *buf) {
  for (;;) {
    ssize_t r = read(c->fd, buf, BLOCK);
    if (r < 0) {
      if (errno == EAGAIN) return;
      if (errno == EINTR) continue;
      fail("read: %s", strerror(errno));
      return tconn_kill(c, 0);
    }
    if (r == 0) {
      if (phase != DONE) fail("%sthe server closed the connection", "");
      return tconn_kill(c, 0);
    }
    if (!c->busy || c->got + (size_t)r > c->expect_len) {
      fail("%sreply longer than prefix + message (chunk split or extra bytes)", "");
      return tconn_kill(c, 0);
    }
    if (memcmp(buf, c->expect + c->got, (size_t)r) != 0) {
      fail("%sreply bytes differ from prefix + message", "");
      return tconn_kill(c, 0);
    }
    c->got += (size_t)r;
    if (c->got == c->expect_len) {
      c->busy = 0;
      total_requests++;
      verified_total += c->expect_len;
      if (phase == MEASURE) bytes_verified += c->expect_len;
      record(now_ns() - c->t_sent);
      if (!c->primed) {
        c->primed = 1;
        primed_count++;
        if (phase == PRIMING) return; /* wait until every connection is primed */
      }
      if (phase == DONE) return;
      pp_send(c, id);
      if (c->dead) return;
    }
  }
}

/* stream: write as much as the server takes, within the in-flight cap */
static void st_write(struct tconn *c, int id) {
  while (c->bytes_sent - c->bytes_checked < inflight_cap && phase != DONE) {
    if (c->send_off == chunk_size) {
      c->send_rot = rng_next(&c->rng) % chunk_size;
      c->send_off = 0;
    }
    size_t room = inflight_cap - (size_t)(c->bytes_sent - c->bytes_checked);
    size_t n = chunk_size - c->send_off;
    if (n > room) n = room;
    ssize_t w = write(c->fd, c->base + c->send_rot + c->send_off, n);
    if (w < 0) {
      if (errno == EAGAIN) {
        tconn_events(c, id, EPOLLIN | EPOLLOUT);
        return;
      }
      if (errno == EINTR) continue;
      fail("write: %s", strerror(errno));
      return tconn_kill(c, 0);
    }
    c->send_off += (size_t)w;
    c->bytes_sent += (uint64_t)w;
  }
  tconn_events(c, id, EPOLLIN); /* cap reached: wait for the echo */
}

static void st_read(struct tconn *c, int id, unsigned char *buf) {
  for (int rounds = 0; rounds < 64; rounds++) {
    ssize_t r = read(c->fd, buf, STREAM_READ);
    if (r < 0) {
      if (errno == EAGAIN) break;
      if (errno == EINTR) continue;
      fail("read: %s", strerror(errno));
      return tconn_kill(c, 0);
    }
    if (r == 0) {
      if (phase != DONE) fail("%sthe server closed the connection", "");
      return tconn_kill(c, 0);
    }
    if (c->bytes_checked + (uint64_t)r > c->bytes_sent) {
      fail("%secho has more bytes than were sent", "");
      return tconn_kill(c, 0);
    }
    size_t off = 0;
    while (off < (size_t)r) {
      if (c->verify_off == chunk_size) {
        c->verify_rot = rng_next(&c->rng_verify) % chunk_size;
        c->verify_off = 0;
      }
      size_t n = chunk_size - c->verify_off;
      if (n > (size_t)r - off) n = (size_t)r - off;
      if (memcmp(buf + off, c->base + c->verify_rot + c->verify_off, n) != 0) {
        char where[64];
        snprintf(where, sizeof where, "%llu", (unsigned long long)(c->bytes_checked + off));
        fail("echoed byte differs from the byte sent, near stream offset %s", where);
        return tconn_kill(c, 0);
      }
      c->verify_off += n;
      off += n;
    }
    c->bytes_checked += (uint64_t)r;
    verified_total += (uint64_t)r;
    if (phase == MEASURE) bytes_verified += (uint64_t)r;
    if (!c->primed && c->bytes_checked >= 65536) {
      c->primed = 1;
      primed_count++;
    }
  }
  if (!c->dead && phase != DONE) st_write(c, id);
}

static void tcp_on_connected(struct tconn *c, int id) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) {
    fprintf(stderr, "loadgen: connect %s:%d: %s\n", host, port, strerror(err));
    exit(3);
  }
  c->connected = 1;
  connected_count++;
  if (mode == TCP_IDLE) tconn_events(c, id, EPOLLIN | EPOLLRDHUP);
  else if (mode == TCP_PINGPONG) pp_send(c, id);
  else st_write(c, id);
}

/* ---------------- UDP flows ---------------- */

struct flow {
  int fd;
  int primed;
  uint64_t rng, seq, t_sent, deadline;
  unsigned char *expect; /* prefix + datagram */
};
static struct flow *flows;

static void udp_send(struct flow *f, int id) {
  f->seq++;
  unsigned char *msg = f->expect + prefix_len;
  uint32_t fid = (uint32_t)id;
  fill_printable(&f->rng, msg, msg_size);
  memcpy(msg, &f->seq, 8); /* msg_size >= 12 is checked at start */
  memcpy(msg + 8, &fid, 4);
  f->t_sent = now_ns();
  f->deadline = f->t_sent + (uint64_t)timeout_ms * 1000000u;
  if (send(f->fd, msg, msg_size, 0) < 0 && errno != EAGAIN && errno != ECONNREFUSED)
    fail("send: %s", strerror(errno));
}

static void udp_read(struct flow *f, int id, unsigned char *buf) {
  for (;;) {
    ssize_t r = recv(f->fd, buf, BLOCK, 0);
    if (r < 0) {
      if (errno == EAGAIN) return;
      if (errno == EINTR) continue;
      if (errno == ECONNREFUSED) {
        fail("recv: %s (nothing listening)", strerror(errno));
        return;
      }
      fail("recv: %s", strerror(errno));
      return;
    }
    uint64_t seq = 0;
    if ((size_t)r == prefix_len + msg_size) memcpy(&seq, buf + prefix_len, 8);
    if ((size_t)r == prefix_len + msg_size && seq < f->seq && seq > 0 &&
        memcmp(buf, prefix, prefix_len) == 0) {
      late++; /* the reply to a datagram already counted as lost */
      continue;
    }
    if ((size_t)r != prefix_len + msg_size || memcmp(buf, f->expect, (size_t)r) != 0) {
      uint32_t other = 0;
      if ((size_t)r == prefix_len + msg_size) memcpy(&other, buf + prefix_len + 8, 4);
      if ((size_t)r == prefix_len + msg_size && other != (uint32_t)id && other < (uint32_t)nconns) {
        char what[32];
        snprintf(what, sizeof what, "%u", other);
        fail("datagram reply carries another flow's datagram (flow %s's)", what);
      } else {
        fail("%sdatagram reply differs from prefix + datagram", "");
      }
      continue;
    }
    total_requests++;
    verified_total += (uint64_t)r;
    if (phase == MEASURE) bytes_verified += (uint64_t)r;
    record(now_ns() - f->t_sent);
    if (!f->primed) {
      f->primed = 1;
      primed_count++;
      f->deadline = UINT64_MAX;
      if (phase == PRIMING) continue;
    }
    if (phase != DONE) udp_send(f, id);
  }
}

/* ---------------- results ---------------- */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(double p) {
  if (!nsamples) return 0;
  size_t i = (size_t)(p * (double)(nsamples - 1) + 0.5);
  return samples[i] / 1000.0;
}

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
    else putchar(*s);
  }
  putchar('"');
}

static const char *mode_name(void) {
  switch (mode) {
    case TCP_PINGPONG: return "tcp-pingpong";
    case TCP_STREAM: return "tcp-stream";
    case UDP_PINGPONG: return "udp-pingpong";
    default: return "tcp-idle";
  }
}

static void report(void) {
  double secs = (double)(t_measure_end - t_measure_start) / 1e9;
  if (secs <= 0) secs = 1e-9;
  qsort(samples, nsamples, sizeof *samples, cmp_u32);
  double sum = 0;
  for (size_t i = 0; i < nsamples; i++) sum += samples[i];
  printf("{\"mode\":\"%s\",\"conns\":%d,\"size\":%zu,\"prefix\":", mode_name(), nconns,
         mode == TCP_STREAM ? chunk_size : msg_size);
  json_string(prefix);
  printf(",\"seconds\":%.4f,\"requests\":%llu,\"rps\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
         "\"p999_us\":%.1f,\"max_us\":%.1f,\"mean_us\":%.1f,\"bytes_verified\":%llu,\"mbps\":%.2f,"
         "\"total_requests\":%llu,\"verified_total\":%llu,\"lost\":%llu,\"late\":%llu,"
         "\"dropped\":%llu,\"errors\":%llu,\"error\":",
         secs, (unsigned long long)requests, requests / secs, pct(0.5), pct(0.99), pct(0.999),
         nsamples ? samples[nsamples - 1] / 1000.0 : 0.0, nsamples ? sum / nsamples / 1000 : 0.0,
         (unsigned long long)bytes_verified, bytes_verified / secs / 1e6,
         (unsigned long long)total_requests, (unsigned long long)verified_total,
         (unsigned long long)lost, (unsigned long long)late, (unsigned long long)dropped,
         (unsigned long long)errors);
  if (first_error[0]) json_string(first_error);
  else printf("null");
  printf("}\n");
  fflush(stdout);
}

/* ---------------- main loop ---------------- */

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen tcp-pingpong|tcp-stream|udp-pingpong|tcp-idle --port P [--host H]\n"
          "  [--conns N] [--size S] [--chunk B] [--prefix TEXT] [--duration SEC] [--warmup SEC]\n"
          "  [--timeout-ms MS] [--inflight BYTES] [--hold SEC] [--seed N] [--prime-timeout SEC]\n");
  exit(2);
}

static void advance_phase(uint64_t t, uint64_t *t_warm_end) {
  if (phase == WARMUP && t >= *t_warm_end) {
    phase = MEASURE;
    t_measure_start = t;
    t_measure_end = t + (uint64_t)(duration_s * 1e9);
  } else if (phase == MEASURE && t >= t_measure_end) {
    phase = DONE;
  }
}

static void start_all_primed(void) {
  /* every connection/flow has done one verified exchange: start the clock */
  if (mode == TCP_PINGPONG)
    for (int i = 0; i < nconns; i++)
      if (!conns[i].dead && !conns[i].busy) pp_send(&conns[i], i);
  if (mode == UDP_PINGPONG)
    for (int i = 0; i < nconns; i++) udp_send(&flows[i], i);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  if (!strcmp(argv[1], "tcp-pingpong")) mode = TCP_PINGPONG;
  else if (!strcmp(argv[1], "tcp-stream")) mode = TCP_STREAM;
  else if (!strcmp(argv[1], "udp-pingpong")) mode = UDP_PINGPONG;
  else if (!strcmp(argv[1], "tcp-idle")) mode = TCP_IDLE;
  else usage();
  for (int i = 2; i < argc; i++) {
    const char *k = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(k, "--host")) host = v;
    else if (!strcmp(k, "--port")) port = atoi(v);
    else if (!strcmp(k, "--conns")) nconns = atoi(v);
    else if (!strcmp(k, "--size")) msg_size = (size_t)atol(v);
    else if (!strcmp(k, "--chunk")) chunk_size = (size_t)atol(v);
    else if (!strcmp(k, "--inflight")) inflight_cap = (size_t)atol(v);
    else if (!strcmp(k, "--prefix")) prefix = v;
    else if (!strcmp(k, "--duration")) duration_s = atof(v);
    else if (!strcmp(k, "--warmup")) warmup_s = atof(v);
    else if (!strcmp(k, "--hold")) hold_s = atof(v);
    else if (!strcmp(k, "--timeout-ms")) timeout_ms = atoi(v);
    else if (!strcmp(k, "--prime-timeout")) prime_timeout_s = atof(v);
    else if (!strcmp(k, "--seed")) seed = (uint64_t)atoll(v);
    else usage();
  }
  prefix_len = strlen(prefix);
  if (port <= 0 || nconns <= 0 || msg_size == 0 || chunk_size == 0 || chunk_size > BLOCK ||
      chunk_size % 8 != 0)
    usage();
  if (mode == UDP_PINGPONG && (msg_size < 12 || msg_size + prefix_len > 65507)) {
    fprintf(stderr, "loadgen: udp-pingpong needs 12 <= --size and a reply within 65507 bytes\n");
    exit(2);
  }
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)nconns + 16 > rl.rlim_cur) {
    fprintf(stderr, "loadgen: %d connections need more file descriptors (ulimit -n is %llu)\n",
            nconns, (unsigned long long)rl.rlim_cur);
    exit(3);
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  static unsigned char buf[STREAM_READ];

  if (mode == UDP_PINGPONG) {
    flows = calloc((size_t)nconns, sizeof *flows);
    struct sockaddr_in a = server_addr();
    for (int i = 0; i < nconns; i++) {
      struct flow *f = &flows[i];
      f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (f->fd < 0 || connect(f->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("udp socket/connect");
        exit(3);
      }
      f->rng = seed_for(i);
      f->expect = malloc(prefix_len + msg_size);
      memcpy(f->expect, prefix, prefix_len);
      ep_set(f->fd, EPOLLIN, (uint32_t)i, EPOLL_CTL_ADD);
      udp_send(f, i);
    }
  } else {
    conns = calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) {
      struct tconn *c = &conns[i];
      c->rng = c->rng_verify = seed_for(i);
      if (mode == TCP_PINGPONG) {
        c->expect_len = prefix_len + msg_size;
        c->expect = malloc(c->expect_len);
        memcpy(c->expect, prefix, prefix_len);
      } else if (mode == TCP_STREAM) {
        uint64_t fill = seed_for(i) ^ 0x5DEECE66Dull;
        c->base = malloc(2 * chunk_size);
        fill_random(&fill, c->base, chunk_size);
        memcpy(c->base + chunk_size, c->base, chunk_size);
        c->send_off = c->verify_off = chunk_size; /* the first write draws a rotation */
      }
    }
  }

  /* TCP connects go out at most this many at a time (a 10,000-connection burst
     would only overflow the server's accept queue and wait for SYN retries). */
  const int max_connecting = 256;
  int next_to_open = 0;
  uint64_t t_start = now_ns();
  uint64_t prime_deadline = t_start + (uint64_t)(prime_timeout_s * 1e9);
  uint64_t t_warm_end = 0, t_hold_end = 0, t_connected = 0;
  int stdin_open = (mode == TCP_IDLE);
  if (stdin_open) {
    /* stdin EOF releases the connections; a regular file (</dev/null) cannot be
       polled, and then only --hold ends the wait */
    struct epoll_event sev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
  }
  struct epoll_event events[MAX_EVENTS];

  for (;;) {
    if (mode != UDP_PINGPONG) {
      while (next_to_open < nconns && next_to_open - connected_count - dead_count < max_connecting)
        open_tcp(next_to_open++);
    }
    uint64_t t = now_ns();
    /* phase changes */
    if (phase == PRIMING) {
      int ready = mode == TCP_IDLE ? connected_count : primed_count;
      if (ready + (mode == TCP_IDLE ? 0 : dead_count) >= nconns && ready > 0) {
        if (mode == TCP_IDLE) {
          t_connected = t;
          printf("{\"event\":\"connected\",\"conns\":%d,\"connect_ms\":%.1f}\n", connected_count,
                 (double)(t - t_start) / 1e6);
          fflush(stdout);
          t_hold_end = t + (uint64_t)(hold_s * 1e9);
          phase = MEASURE;
        } else {
          phase = WARMUP;
          t_warm_end = t + (uint64_t)(warmup_s * 1e9);
          start_all_primed();
        }
      } else if (t > prime_deadline) {
        fprintf(stderr, "loadgen: only %d of %d %s answered within %g s\n",
                mode == TCP_IDLE ? connected_count : primed_count, nconns,
                mode == UDP_PINGPONG ? "flows" : "connections", prime_timeout_s);
        report();
        exit(3);
      }
    }
    if (mode == TCP_IDLE) {
      if (phase == MEASURE && (t >= t_hold_end || !stdin_open)) break;
    } else {
      advance_phase(t, &t_warm_end);
      if (phase == DONE) break;
      if (mode != UDP_PINGPONG && dead_count >= nconns) break;
    }
    /* wait: until the next phase boundary or UDP deadline */
    uint64_t wake = t + 100000000u;
    if (phase == WARMUP && t_warm_end < wake) wake = t_warm_end;
    if (phase == MEASURE && mode != TCP_IDLE && t_measure_end < wake) wake = t_measure_end;
    if (mode == UDP_PINGPONG) {
      for (int i = 0; i < nconns; i++) {
        struct flow *f = &flows[i];
        if (f->deadline <= t) {
          if (f->primed) {
            if (phase == MEASURE) lost++;
          }
          udp_send(f, i); /* priming retries too */
        }
        if (f->deadline < wake) wake = f->deadline;
      }
    }
    int timeout = wake > t ? (int)((wake - t + 999999) / 1000000) : 0;
    int n = epoll_wait(ep, events, MAX_EVENTS, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      exit(1);
    }
    for (int k = 0; k < n; k++) {
      uint32_t id = events[k].data.u32;
      uint32_t e = events[k].events;
      if (id == UINT32_MAX) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r <= 0) {
          stdin_open = 0;
          epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
        }
        continue;
      }
      if (mode == UDP_PINGPONG) {
        udp_read(&flows[id], (int)id, buf);
        continue;
      }
      struct tconn *c = &conns[id];
      if (c->dead) continue;
      if (!c->connected) {
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) tcp_on_connected(c, (int)id);
        continue;
      }
      if (mode == TCP_IDLE) {
        /* the server closed or reset a connection we are holding */
        dropped++;
        tconn_kill(c, 1);
        continue;
      }
      if (mode == TCP_PINGPONG) {
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) pp_read(c, (int)id, buf);
        if (!c->dead && (e & EPOLLOUT) && c->busy) pp_send(c, (int)id);
      } else {
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) st_read(c, (int)id, buf);
        if (!c->dead && (e & EPOLLOUT)) st_write(c, (int)id);
      }
    }
  }
  if (mode == TCP_IDLE) {
    t_measure_start = t_connected;
    t_measure_end = now_ns();
    if (dropped) fail("%sthe server closed idle connections", "");
  }
  phase = DONE;
  for (int i = 0; mode != UDP_PINGPONG && i < nconns; i++) {
    if (mode != TCP_IDLE && !conns[i].dead && conns[i].primed == 0) fail("%sa connection never answered", "");
    tconn_kill(&conns[i], mode == TCP_IDLE);
  }
  report();
  return errors ? 1 : 0;
}
