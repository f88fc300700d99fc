// pty_pair LOG [queued]: a session leader that owns a pty pair. The slave is its controlling
// terminal (TIOCSCTTY), in raw mode at 9600 baud with VMIN 1 and a custom VINTR, window 33x111
// (640x480 pixels), exclusive; the master is in packet mode and the pty is locked again once
// the slave is open. On SIGUSR1 it writes a line to /dev/tty (opened at start: the slave) and
// reads it from the master, writes one to the master and reads it from the slave, and appends
//   s2m=ok m2s=ok rounds=N iflag=… oflag=… cflag=… lflag=… vmin=1 vintr=7 speed=… ws=33x111+640x480
//   pkt=1 locked=1 excl=1 sid_ok=1 fg_ok=1 ptn=N
// With "queued", it writes bytes to the slave at start that nobody reads.
#include "target.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

static int read_timeout(int fd, char *buf, int len) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 2000) <= 0) return -1;
  return read(fd, buf, len);
}

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  int queued = argc > 2 && strcmp(argv[2], "queued") == 0;
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) die("ptmx");
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  if (slave < 0) die("slave");
  if (ioctl(slave, TIOCSCTTY, 0) < 0) die("TIOCSCTTY");
  int devtty = open("/dev/tty", O_RDWR);
  if (devtty < 0) die("/dev/tty");
  struct termios t;
  if (tcgetattr(slave, &t) < 0) die("tcgetattr");
  cfmakeraw(&t);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  t.c_cc[VINTR] = 7;
  cfsetspeed(&t, B9600);
  if (tcsetattr(slave, TCSANOW, &t) < 0) die("tcsetattr");
  struct winsize ws = {33, 111, 640, 480};
  if (ioctl(slave, TIOCSWINSZ, &ws) < 0) die("TIOCSWINSZ");
  int one = 1;
  if (ioctl(master, TIOCPKT, &one) < 0) die("TIOCPKT");
  if (ioctl(slave, TIOCEXCL) < 0) die("TIOCEXCL");
  if (ioctl(master, TIOCSPTLCK, &one) < 0) die("TIOCSPTLCK");
  if (queued && write(slave, "stuck", 5) != 5) die("write");
  ready();
  int rounds = 0;
  for (;;) {
    pause();
    if (!report_requested) continue;
    report_requested = 0;
    rounds++;
    char out[64], in[128];
    int n = snprintf(out, sizeof out, "ping%d", rounds);
    int s2m = write(devtty, out, n) == n && read_timeout(master, in, sizeof in) == n + 1 && in[0] == TIOCPKT_DATA && memcmp(in + 1, out, n) == 0;
    n = snprintf(out, sizeof out, "pong%d", rounds);
    int m2s = write(master, out, n) == n && read_timeout(slave, in, sizeof in) == n && memcmp(in, out, n) == 0;
    struct termios c;
    struct winsize w;
    int pkt = -1, locked = -1, excl = -1, ptn = -1;
    tcgetattr(slave, &c);
    ioctl(slave, TIOCGWINSZ, &w);
    ioctl(master, TIOCGPKT, &pkt);
    ioctl(master, TIOCGPTLCK, &locked);
    ioctl(slave, TIOCGEXCL, &excl);
    ioctl(master, TIOCGPTN, &ptn);
    say("s2m=%s m2s=%s rounds=%d iflag=%x oflag=%x cflag=%x lflag=%x vmin=%d vintr=%d speed=%d ws=%dx%d+%dx%d "
        "pkt=%d locked=%d excl=%d sid_ok=%d fg_ok=%d ptn=%d",
        s2m ? "ok" : "bad", m2s ? "ok" : "bad", rounds, c.c_iflag, c.c_oflag, c.c_cflag, c.c_lflag, c.c_cc[VMIN],
        c.c_cc[VINTR], (int)cfgetospeed(&c), w.ws_row, w.ws_col, w.ws_xpixel, w.ws_ypixel, pkt, locked, excl,
        tcgetsid(slave) == getpid(), tcgetpgrp(slave) == getpgrp(), ptn);
  }
}
