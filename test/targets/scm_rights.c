// scm_rights LOG MODE (zdtm: scm00..scm06): a unix socketpair (MODE stream or dgram) with a
// pipe's read end in flight: sent with SCM_RIGHTS along with "fd!" and not received yet. The
// pipe holds "through-the-passed-fd".
// SIGUSR1: the task receives the message and reads the pipe through the fd it got:
//   got=BYTES text=fd! fds=N pipe=through-the-passed-fd
#include "target.h"
#include <sys/socket.h>

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  int type = argc > 2 && strcmp(argv[2], "dgram") == 0 ? SOCK_DGRAM : SOCK_STREAM;
  int sp[2], p[2];
  if (socketpair(AF_UNIX, type, 0, sp) < 0 || pipe(p) < 0) die("socketpair/pipe");
  const char *msg = "through-the-passed-fd";
  if (write(p[1], msg, strlen(msg)) < 0) die("write pipe");
  char ctl[CMSG_SPACE(sizeof(int))];
  memset(ctl, 0, sizeof ctl);
  struct iovec iov = {.iov_base = "fd!", .iov_len = 3};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p[0], sizeof(int));
  if (sendmsg(sp[0], &mh, 0) != 3) die("sendmsg");
  close(p[0]);  // only the one in flight is left
  ready();
  long count = 0;
  for (;;) {
    count++;
    if (report_requested) {
      report_requested = 0;
      char buf[64] = {0}, data[64] = {0};
      char rctl[CMSG_SPACE(4 * sizeof(int))];
      struct iovec riov = {.iov_base = buf, .iov_len = sizeof buf - 1};
      struct msghdr rh = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rctl, .msg_controllen = sizeof rctl};
      ssize_t n = recvmsg(sp[1], &rh, MSG_DONTWAIT);
      int fds = 0, fd = -1;
      for (struct cmsghdr *h = CMSG_FIRSTHDR(&rh); n >= 0 && h; h = CMSG_NXTHDR(&rh, h)) {
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
          fds += (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          memcpy(&fd, CMSG_DATA(h), sizeof(int));
        }
      }
      if (fd >= 0) {
        fcntl(fd, F_SETFL, O_NONBLOCK);
        if (read(fd, data, sizeof data - 1) < 0) strcpy(data, "-");
      }
      say("got=%zd text=%s fds=%d pipe=%s count=%ld", n, n > 0 ? buf : "-", fds, data[0] ? data : "-", count);
    }
    sleep_ms(10);
  }
}
