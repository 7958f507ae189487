/*
 * refserver: the reference echo server for bench/run.ts — what this machine
 * can do with one thread, epoll and no work besides moving the bytes.
 *
 *   refserver tcp [--host 127.0.0.1] [--port 0] [--prefix TEXT]
 *   refserver udp [--host 127.0.0.1] [--port 0] [--prefix TEXT]
 *
 * TCP: like `sockdemo tcp-server`, answers each chunk read with prefix + chunk
 * (one writev), TCP_NODELAY, stops reading a connection while its replies are
 * queued (backpressure), and after the peer's FIN flushes and closes.
 * UDP: answers each datagram with prefix + datagram to its sender.
 * Prints "port N" on stdout once bound (useful with --port 0). SIGTERM/SIGINT exit 0.
 *
 * Built by bench/run.ts with `cc -O2`; single-threaded on purpose, like the
 * event loop of the servers it is compared with.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_SIZE 65536
#define MAX_EVENTS 256

struct conn {
  int fd;
  int reading;    /* EPOLLIN armed */
  int peer_eof;   /* the peer sent FIN */
  char *out;      /* queued reply bytes not yet written */
  size_t out_len, out_off, out_cap;
};

static const char *prefix = "";
static size_t prefix_len = 0;
static int ep = -1;
static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void set_events(struct conn *c) {
  struct epoll_event ev = {0};
  ev.events = (c->reading ? EPOLLIN | EPOLLRDHUP : 0) | (c->out_len > c->out_off ? EPOLLOUT : 0);
  ev.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->out);
  free(c);
}

static void queue_bytes(struct conn *c, const char *p, size_t n) {
  if (c->out_off > 0 && c->out_off == c->out_len) c->out_off = c->out_len = 0;
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 65536;
    while (cap < c->out_len + n) cap *= 2;
    c->out = realloc(c->out, cap);
    if (!c->out) die("realloc");
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

/* Write queued bytes; returns -1 if the connection died. */
static int flush_out(struct conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      return -1;
    }
    c->out_off += (size_t)w;
  }
  c->out_off = c->out_len = 0;
  return 0;
}

/* Reply prefix + chunk; queue what the kernel does not take now. */
static int reply(struct conn *c, const char *buf, size_t n) {
  if (c->out_len > c->out_off) {
    queue_bytes(c, prefix, prefix_len);
    queue_bytes(c, buf, n);
    return 0;
  }
  struct iovec iov[2] = {{(void *)prefix, prefix_len}, {(void *)buf, n}};
  size_t total = prefix_len + n;
  ssize_t w;
  do w = writev(c->fd, iov, 2);
  while (w < 0 && errno == EINTR);
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    w = 0;
  }
  if ((size_t)w < total) {
    size_t done = (size_t)w;
    if (done < prefix_len) {
      queue_bytes(c, prefix + done, prefix_len - done);
      queue_bytes(c, buf, n);
    } else {
      queue_bytes(c, buf + (done - prefix_len), total - done);
    }
  }
  return 0;
}

static void tcp_readable(struct conn *c, char *buf) {
  for (int rounds = 0; rounds < 16; rounds++) {
    ssize_t r = read(c->fd, buf, READ_SIZE);
    if (r > 0) {
      if (reply(c, buf, (size_t)r) < 0) return conn_close(c);
      if (c->out_len > c->out_off) break; /* backpressure: stop reading until drained */
      continue;
    }
    if (r == 0) {
      c->peer_eof = 1;
      c->reading = 0;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return conn_close(c);
  }
  if (c->peer_eof && c->out_len == c->out_off) {
    shutdown(c->fd, SHUT_WR);
    return conn_close(c);
  }
  int want_read = !c->peer_eof && c->out_len == c->out_off;
  if (want_read != c->reading || c->out_len > c->out_off) {
    c->reading = want_read;
    set_events(c);
  }
}

static void tcp_writable(struct conn *c) {
  if (flush_out(c) < 0) return conn_close(c);
  if (c->out_len > c->out_off) return;
  if (c->peer_eof) {
    shutdown(c->fd, SHUT_WR);
    return conn_close(c);
  }
  c->reading = 1;
  set_events(c);
}

static int make_socket(int type, const char *host, int port) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "refserver: bad IPv4 address %s\n", host);
    exit(2);
  }
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  if (type == SOCK_STREAM && listen(fd, 4096) < 0) die("listen");
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  return fd;
}

static int run_tcp(const char *host, int port) {
  int lfd = make_socket(SOCK_STREAM, host, port);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  char *buf = malloc(READ_SIZE);
  struct epoll_event events[MAX_EVENTS];
  while (!stopping) {
    int n = epoll_wait(ep, events, MAX_EVENTS, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (!c) {
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          nc->reading = 1;
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      uint32_t e = events[i].events;
      if (e & EPOLLOUT) {
        tcp_writable(c);
        continue; /* c may be freed; read on the next round */
      }
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if ((e & (EPOLLHUP | EPOLLERR)) && !(e & EPOLLIN)) {
          conn_close(c);
          continue;
        }
        tcp_readable(c, buf);
      }
    }
  }
  return 0;
}

static int run_udp(const char *host, int port) {
  int fd = make_socket(SOCK_DGRAM, host, port);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  static char buf[65536];
  struct epoll_event events[4];
  while (!stopping) {
    int n = epoll_wait(ep, events, 4, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    if (n == 0) continue;
    for (;;) {
      struct sockaddr_in from;
      socklen_t flen = sizeof from;
      ssize_t r = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
      if (r < 0) break;
      struct iovec iov[2] = {{(void *)prefix, prefix_len}, {buf, (size_t)r}};
      struct msghdr m = {0};
      m.msg_name = &from;
      m.msg_namelen = flen;
      m.msg_iov = iov;
      m.msg_iovlen = 2;
      sendmsg(fd, &m, 0); /* a full buffer drops the reply: UDP */
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "tcp") && strcmp(argv[1], "udp"))) {
    fprintf(stderr, "usage: refserver tcp|udp [--host H] [--port P] [--prefix TEXT]\n");
    return 2;
  }
  const char *host = "127.0.0.1";
  int port = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--host")) host = argv[i + 1];
    else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--prefix")) prefix = argv[i + 1];
    else {
      fprintf(stderr, "refserver: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  prefix_len = strlen(prefix);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  return !strcmp(argv[1], "tcp") ? run_tcp(host, port) : run_udp(host, port);
}
