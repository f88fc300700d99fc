// eventfds LOG: holds an eventfd (counter 5, non-blocking), a signalfd for SIGUSR2 (blocked),
// and a periodic timerfd (100 ms). On SIGUSR1 appends
//   efd=COUNTER efd_nonblock=1 sfd=SIGNO tfd_total=N tfd_interval_ms=I
// COUNTER is read and written back (so the state survives the report), SIGNO is what the
// signalfd returns after raise(SIGUSR2), N counts timer expirations read so far.
#include "target.h"
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <poll.h>

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  int efd = eventfd(5, EFD_NONBLOCK);
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR2);
  if (sigprocmask(SIG_BLOCK, &m, NULL) < 0) die("sigprocmask");
  int sfd = signalfd(-1, &m, SFD_NONBLOCK);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct itimerspec its = {{0, 100 * 1000 * 1000}, {0, 100 * 1000 * 1000}};
  if (efd < 0 || sfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) die("fds");
  uint64_t total = 0;
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    struct pollfd p = {tfd, POLLIN, 0};
    poll(&p, 1, 50);
    uint64_t n;
    if (read(tfd, &n, sizeof n) == sizeof n) total += n;
    if (!report_requested) continue;
    report_requested = 0;
    uint64_t c = 0;
    if (read(efd, &c, sizeof c) != sizeof c) c = 0;
    if (c && write(efd, &c, sizeof c) != sizeof c) die("eventfd write");
    raise(SIGUSR2);
    struct signalfd_siginfo si;
    int signo = read(sfd, &si, sizeof si) == sizeof si ? (int)si.ssi_signo : -1;
    struct itimerspec cur;
    timerfd_gettime(tfd, &cur);
    say("efd=%llu efd_nonblock=%d sfd=%d tfd_total=%llu tfd_interval_ms=%ld", (unsigned long long)c,
        (fcntl(efd, F_GETFL) & O_NONBLOCK) != 0, signo, (unsigned long long)total, cur.it_interval.tv_nsec / 1000000);
  }
}
