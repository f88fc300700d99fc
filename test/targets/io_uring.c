// A counter holding an io_uring instance, which neither CRIU nor cryo can checkpoint: the dump
// must be refused, naming it, and the task run on.
// io_uring LOG: counts every 10 ms, appends count=N on SIGUSR1; prints "fd=N" before ready.
#include "target.h"
#include <sys/syscall.h>

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  unsigned char params[120];
  memset(params, 0, sizeof params);
  int fd = (int)syscall(425 /* io_uring_setup */, 4, params);
  if (fd < 0) die("io_uring_setup");
  printf("fd=%d\n", fd);
  ready();
  unsigned long long count = 0;
  for (;;) {
    sleep_ms(10);
    count++;
    if (report_requested) {
      report_requested = 0;
      say("count=%llu", count);
    }
  }
}
