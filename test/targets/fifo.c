// fifo LOG PATH: makes the FIFO PATH, opens it for reading (non-blocking) and for writing, and
// queues "hello-fifo" in it. On SIGUSR1 reads what is queued, appends
//   data=DATA rmode=0 rnonblock=1 wmode=1
// and writes the data back, so it stays queued.
#include "target.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
  if (argc < 3) die("usage: fifo LOG PATH");
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  unlink(argv[2]);
  if (mkfifo(argv[2], 0600) < 0) die("mkfifo");
  int r = open(argv[2], O_RDONLY | O_NONBLOCK);
  int w = open(argv[2], O_WRONLY);
  if (r < 0 || w < 0) die("open fifo");
  if (write(w, "hello-fifo", 10) != 10) die("write");
  ready();
  for (;;) {
    sleep_ms(50);
    if (!report_requested) continue;
    report_requested = 0;
    char buf[256];
    ssize_t n = read(r, buf, sizeof buf - 1);
    if (n < 0) n = 0;
    buf[n] = 0;
    say("data=%s rmode=%d rnonblock=%d wmode=%d", n ? buf : "-", fcntl(r, F_GETFL) & O_ACCMODE, (fcntl(r, F_GETFL) & O_NONBLOCK) != 0,
        fcntl(w, F_GETFL) & O_ACCMODE);
    if (n && write(w, buf, n) != n) die("write back");
  }
}
