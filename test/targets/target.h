// Shared by the zdtm-style targets: the report protocol.
// A target prints "ready\n" on stdout once set up, then on SIGUSR1 appends one line of
// space-separated key=value pairs to the report file (argv[1], opened once with O_APPEND and
// kept open, so the log continues across a checkpoint/restore; "-" means stdout).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// Not every target uses every helper.
#define HELPER static __attribute__((unused))

static int report_fd = 1;
static volatile sig_atomic_t report_requested;

HELPER void on_report(int sig) {
  (void)sig;
  report_requested = 1;
}

HELPER void die(const char *what) {
  perror(what);
  exit(2);
}

HELPER void open_report(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "-") == 0) return;
  report_fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (report_fd < 0) die(argv[1]);
}

HELPER void install_handler(int sig, void (*handler)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  if (sigaction(sig, &sa, NULL) < 0) die("sigaction");
}

HELPER void install_report_handler(int flags) { install_handler(SIGUSR1, on_report, flags); }

// One write(2) per line, so a reader never sees half a line from us.
HELPER void say(const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  for (int off = 0; off < n;) {
    ssize_t w = write(report_fd, buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += w;
  }
}

HELPER void ready(void) {
  printf("ready\n");
  fflush(stdout);
}

// A signal cuts the sleep short; callers loop anyway.
HELPER void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

HELPER uint64_t checksum(const void *p, size_t len) {
  const unsigned char *b = p;
  uint64_t h = 1469598103934665603ULL;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    h = (h ^ w) * 1099511628211ULL;
  }
  for (; i < len; i++) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

HELPER uint64_t pattern_word(uint64_t seed, uint64_t i) { return seed ^ (i * 0x9E3779B97F4A7C15ULL); }

HELPER void fill_pattern(void *p, size_t len, uint64_t seed) {
  uint64_t *w = p;
  for (size_t i = 0; i < len / 8; i++) w[i] = pattern_word(seed, i);
}

HELPER int check_pattern(const void *p, size_t len, uint64_t seed) {
  const uint64_t *w = p;
  for (size_t i = 0; i < len / 8; i++)
    if (w[i] != pattern_word(seed, i)) return 0;
  return 1;
}

HELPER const char *okbad(int ok) { return ok ? "ok" : "BAD"; }
