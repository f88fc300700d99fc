// pipe_reader LOG: the main thread blocks in read() on a pipe whose write end it also holds.
// SIGUSR1's handler (SA_RESTART) writes "ping" into the pipe; the read returns and appends
//   got 4 bytes total=T reads=R data=ping
#include "target.h"

static int pfd[2];

static void on_usr1(int sig) {
  (void)sig;
  ssize_t w = write(pfd[1], "ping", 4);
  (void)w;
}

int main(int argc, char **argv) {
  open_report(argc, argv);
  if (pipe(pfd) < 0) die("pipe");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGUSR1, &sa, NULL) < 0) die("sigaction");
  ready();
  unsigned long long total = 0, reads = 0;
  for (;;) {
    char buf[4096];
    ssize_t n = read(pfd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("read");
    total += n;
    reads++;
    say("got %zd bytes total=%llu reads=%llu data=%.*s", n, total, reads, (int)n, buf);
  }
}
