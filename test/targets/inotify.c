// inotify LOG DIR: an inotify fd (non-blocking) watching DIR/a (wd 1, then removed), DIR/b
// (IN_MODIFY, wd 2), DIR/c (IN_MODIFY|IN_ATTRIB, wd 3) and DIR itself (IN_CREATE, wd 4). Every
// event read is logged as "event wd=N mask=0xM name=NAME"; SIGUSR1 reports "wds=2,3,4 nonblock=1".
#include "target.h"
#include <poll.h>
#include <sys/inotify.h>

int main(int argc, char **argv) {
  if (argc < 3) die("usage: inotify LOG DIR");
  open_report(argc, argv);
  install_report_handler(0);
  int in = inotify_init1(IN_NONBLOCK);
  if (in < 0) die("inotify_init1");
  char path[4096];
  const char *names[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", argv[2], names[i]);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd < 0) die(path);
    close(fd);
  }
  snprintf(path, sizeof path, "%s/a", argv[2]);
  int wa = inotify_add_watch(in, path, IN_MODIFY);
  snprintf(path, sizeof path, "%s/b", argv[2]);
  int wb = inotify_add_watch(in, path, IN_MODIFY);
  if (inotify_rm_watch(in, wa) < 0) die("inotify_rm_watch");
  snprintf(path, sizeof path, "%s/c", argv[2]);
  int wc = inotify_add_watch(in, path, IN_MODIFY | IN_ATTRIB);
  int wd = inotify_add_watch(in, argv[2], IN_CREATE);
  if (wb < 0 || wc < 0 || wd < 0) die("inotify_add_watch");
  // The IN_IGNORED of the removed watch is not part of the test.
  char buf[4096] __attribute__((aligned(8)));
  while (read(in, buf, sizeof buf) > 0) {
  }
  ready();
  for (;;) {
    struct pollfd p = {in, POLLIN, 0};
    poll(&p, 1, 100);
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
      for (char *at = buf; at < buf + n;) {
        struct inotify_event *e = (struct inotify_event *)at;
        say("event wd=%d mask=0x%x name=%s", e->wd, e->mask, e->len ? e->name : "-");
        at += sizeof *e + e->len;
      }
    }
    if (!report_requested) continue;
    report_requested = 0;
    say("wds=%d,%d,%d nonblock=%d", wb, wc, wd, (fcntl(in, F_GETFL) & O_NONBLOCK) != 0);
  }
}
