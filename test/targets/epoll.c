// epoll LOG: an epoll loop (epoll_wait, no timeout) over a pipe's read end, an eventfd and a
// periodic timerfd (20 ms), each registered with its own data. On startup prints
// "pipe_w=N" (the pipe's write end, for the test to write into through /proc/PID/fd/N).
// SIGUSR1 (its handler writes the eventfd) gets the report
//   ticks=T pipe_w=N ep_cloexec=1
// through the loop; a line written into the pipe is answered with "echo=LINE".
#include "target.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#define D_PIPE 0x1111000000000001ULL
#define D_EFD 0x2222000000000002ULL
#define D_TFD 0x3333000000000003ULL

static int efd;

static void on_usr1(int sig) {
  (void)sig;
  uint64_t one = 1;
  if (write(efd, &one, sizeof one) < 0) _exit(3);
}

int main(int argc, char **argv) {
  open_report(argc, argv);
  int p[2];
  if (pipe(p) < 0) die("pipe");
  efd = eventfd(0, EFD_NONBLOCK);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct itimerspec its = {{0, 20 * 1000 * 1000}, {0, 20 * 1000 * 1000}};
  if (efd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) die("fds");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = D_PIPE};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0) die("epoll_ctl pipe");
  ev.data.u64 = D_EFD;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0) die("epoll_ctl efd");
  ev.data.u64 = D_TFD;
  ev.events = EPOLLIN | EPOLLET;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) die("epoll_ctl tfd");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  if (sigaction(SIGUSR1, &sa, NULL) < 0) die("sigaction");
  uint64_t ticks = 0;
  printf("pipe_w=%d\nready\n", p[1]);
  fflush(stdout);
  for (;;) {
    struct epoll_event evs[8];
    int n = epoll_wait(ep, evs, 8, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      uint64_t v;
      char buf[256];
      switch (evs[i].data.u64) {
        case D_PIPE: {
          ssize_t r = read(p[0], buf, sizeof buf - 1);
          if (r <= 0) break;
          buf[r] = 0;
          buf[strcspn(buf, "\n")] = 0;
          say("echo=%s", buf);
          break;
        }
        case D_EFD:
          if (read(efd, &v, sizeof v) != sizeof v) break;
          say("ticks=%llu pipe_w=%d ep_cloexec=%d", (unsigned long long)ticks, p[1], (fcntl(ep, F_GETFD) & FD_CLOEXEC) != 0);
          break;
        case D_TFD:
          while (read(tfd, &v, sizeof v) == sizeof v) ticks += v;
          break;
        default:
          say("bad_data=%llx", (unsigned long long)evs[i].data.u64);
      }
    }
  }
}
