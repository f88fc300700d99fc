// tty_echo: a job on a terminal it did not open (a shell job). Prints
//   ready pid=PID tty=TTY
// on stdout, then answers each line read on stdin with
//   echo n=N tty=TTY line=LINE
// where N counts the lines read since it started and TTY is the name of its stdout's terminal,
// then "devtty n=N" through an fd on /dev/tty opened at start.
#include "target.h"

int main(void) {
  char line[512];
  int n = 0;
  const char *tty = ttyname(1);
  int devtty = open("/dev/tty", O_WRONLY);
  if (devtty < 0) die("/dev/tty");
  printf("ready pid=%d tty=%s\n", (int)getpid(), tty ? tty : "none");
  fflush(stdout);
  for (;;) {
    ssize_t r = read(0, line, sizeof line - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    line[r] = 0;
    line[strcspn(line, "\r\n")] = 0;
    tty = ttyname(1);
    printf("echo n=%d tty=%s line=%s\n", ++n, tty ? tty : "none", line);
    fflush(stdout);
    dprintf(devtty, "devtty n=%d\n", n);
  }
}
