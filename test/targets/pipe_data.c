// pipe_data LOG [BYTES=20000]: makes a pipe, writes BYTES of a pattern seeded by its pid into it
// and leaves them unread, holding both ends (the data sits queued in the kernel). Prints
//   queued=N sum=HEX
// on stdout before "ready". On SIGUSR1 drains the pipe (non-blocking) and appends
//   read=N sum=HEX data=ok|BAD
// where data=ok means exactly the queued bytes came back, in order. Then queues them again.
#include "target.h"

static int pfd[2];
static unsigned char *buf;
static size_t len;

static void queue(void) {
  for (size_t off = 0; off < len;) {
    ssize_t w = write(pfd[1], buf + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("write pipe");
    off += w;
  }
}

int main(int argc, char **argv) {
  len = argc > 2 ? (size_t)atol(argv[2]) : 20000;
  if (len > 60000) len = 60000; // stays below the default 64 KiB pipe buffer: write never blocks
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  if (pipe(pfd) < 0) die("pipe");
  if (fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0) die("fcntl");
  buf = malloc(len + 1);
  for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)((i * 131 + getpid()) >> 3);
  queue();
  printf("queued=%zu sum=%016llx\n", len, (unsigned long long)checksum(buf, len));
  ready();
  unsigned char *got = malloc(len + 4096);
  for (;;) {
    sleep_ms(10);
    if (!report_requested) continue;
    report_requested = 0;
    size_t n = 0;
    for (;;) {
      ssize_t r = read(pfd[0], got + n, len + 4096 - n);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      n += r;
    }
    say("read=%zu sum=%016llx data=%s", n, (unsigned long long)checksum(got, n), okbad(n == len && memcmp(got, buf, len) == 0));
    queue();
  }
}
