/*
 * storm: hostile TCP peers for test/reliability.test.ts's fault storm.
 *
 *   storm HOST PORT TOTAL THREADS [HOLD_MS]
 *
 * Opens TOTAL connections to HOST:PORT (IPv4), THREADS at a time. Connection
 * i plays the role i % 10:
 *   0, 1  reset: connect, SO_LINGER {1, 0}, close: the server sees RST at once
 *   2, 3  reset after data: send 1 KiB, then RST
 *   4, 5  vanish mid-reply: send 32 KiB, read the first reply byte, close
 *         without reading the rest (unread data: the kernel sends RST)
 *   6     EPIPE: send 256 KiB, read the first reply byte, then RST while the
 *         server may still be writing its 256 KiB reply. No half-close first:
 *         loopback buffers can take the whole reply, and a server that has
 *         written it all after our FIN closes before the RST arrives
 *         (correctly "closed normally", but then no reset is left to report)
 *   7, 8  half-open: send 16 bytes, half-close (FIN), never read; the socket
 *         stays open (up to HELD per thread, oldest closed first) until the end,
 *         and HOLD_MS (default 0) longer
 *   9     quiet: connect and close (FIN) without a byte
 * Every socket has 5 s send/receive timeouts, so nothing here can hang.
 * Prints one JSON line: {"connected":N,"connectErrors":N,"firstError":"...","ms":N}
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define HELD 32

static struct sockaddr_in target;
static int total, threads, hold_ms;
static int next_index = 0;
static int connected = 0, connect_errors = 0;
static char first_error[128] = "";
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char payload[256 * 1024];

static void note_error(const char *what) {
  pthread_mutex_lock(&lock);
  connect_errors++;
  if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s: %s", what, strerror(errno));
  pthread_mutex_unlock(&lock);
}

static void reset_close(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

static int send_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static void *worker(void *arg) {
  (void)arg;
  int held[HELD];
  int nheld = 0;
  char byte;
  for (;;) {
    pthread_mutex_lock(&lock);
    int i = next_index < total ? next_index++ : -1;
    pthread_mutex_unlock(&lock);
    if (i < 0) break;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      note_error("socket");
      continue;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&target, sizeof target) != 0) {
      note_error("connect");
      close(fd);
      continue;
    }
    pthread_mutex_lock(&lock);
    connected++;
    pthread_mutex_unlock(&lock);
    switch (i % 10) {
      case 0:
      case 1:
        reset_close(fd);
        break;
      case 2:
      case 3:
        send_all(fd, payload, 1024);
        reset_close(fd);
        break;
      case 4:
      case 5:
        send_all(fd, payload, 32 * 1024);
        recv(fd, &byte, 1, 0);
        close(fd);
        break;
      case 6:
        send_all(fd, payload, sizeof payload);
        recv(fd, &byte, 1, 0);
        reset_close(fd);
        break;
      case 7:
      case 8:
        send_all(fd, payload, 16);
        shutdown(fd, SHUT_WR);
        if (nheld == HELD) {
          close(held[0]);
          memmove(held, held + 1, sizeof(int) * (HELD - 1));
          nheld--;
        }
        held[nheld++] = fd;
        break;
      default:
        close(fd);
        break;
    }
  }
  if (hold_ms > 0) {
    struct timespec pause = {hold_ms / 1000, (long)(hold_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
  }
  for (int k = 0; k < nheld; k++) close(held[k]);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: storm HOST PORT TOTAL THREADS [HOLD_MS]\n");
    return 2;
  }
  memset(&target, 0, sizeof target);
  target.sin_family = AF_INET;
  target.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) {
    fprintf(stderr, "storm: bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  total = atoi(argv[3]);
  threads = atoi(argv[4]);
  hold_ms = argc == 6 ? atoi(argv[5]) : 0;
  for (size_t k = 0; k < sizeof payload; k++) payload[k] = (char)(k * 131 + 7);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pthread_t tids[256];
  if (threads > 256) threads = 256;
  for (int t = 0; t < threads; t++) pthread_create(&tids[t], NULL, worker, NULL);
  for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  printf("{\"connected\":%d,\"connectErrors\":%d,\"firstError\":\"%s\",\"ms\":%.0f}\n", connected,
         connect_errors, first_error, ms);
  return 0;
}
