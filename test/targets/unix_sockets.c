// unix_sockets LOG DIR [external PATH | pending]
// Holds unix sockets of every shape, each with data queued before the dump:
//   ss   socketpair(STREAM): "stream-a2b-1" "stream-a2b-2" queued at ss1, "stream-b2a" at ss0; ss0 O_NONBLOCK,
//        SO_SNDBUF 65536 on ss0, SO_RCVBUF 100000 on ss1
//   ds   socketpair(DGRAM): "d1" "dd2" "ddd3" at ds1 (SO_PASSCRED), "r1" at ds0
//   qs   socketpair(SEQPACKET): "s1" "ss2" at qs1, "sr" at qs0
//   lst  STREAM listener on DIR/listen.sock (O_NONBLOCK, SO_REUSEADDR, backlog 7); cli connected to it
//        (SO_PRIORITY 3), srv the accepted end (SO_RCVTIMEO 1500 ms); "hello-from-client" at srv,
//        "hello-from-server" at cli
//   abs  DGRAM bound to the abstract name @cryo-unix-PID: "abstract-msg" queued from a closed sender
//   dgb  DGRAM bound to DIR/dgram.sock, dgc connected to it (one way): "to-b-1" "to-b-2" at dgb
//   rel  DGRAM bound to the relative name rel.sock (cwd DIR): "rel-msg" queued
//   sh   socketpair(STREAM): sh0 wrote "last-words" then shutdown(SHUT_WR)
//   sr   socketpair(STREAM): sr0 shutdown(SHUT_RD)
//   or0  socketpair(STREAM) end whose peer wrote "orphan-data" and was closed
//   dl   DGRAM bound to DIR/deleted.sock, then the file unlinked
// On SIGUSR1 appends the state of each socket without touching the queues:
//   NAME=type/nonblock/sndbuf/rcvbuf/passcred/reuseaddr/prio/rcvtimeo_ms/inq/acceptconn/sockname/peername
// On SIGUSR2 reads every queue (NAME_q=msg|msg…, stream bytes joined), sends new data both ways on
// each connection (flow_NAME=ok), checks the shut-down halves (sh1_eof, sh0_epipe, sr1_epipe, sr0_eof, or0_eof),
// and accepts one client on the listener, reads a line and answers "pong:LINE" (accepted=LINE).
// "external PATH": only a stream socket connected to PATH. "pending": a listener with a connection
// not accepted yet.
#include "target.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/sockios.h>
#include <stddef.h>

static volatile sig_atomic_t exercise_requested;
static void on_usr2(int sig) {
  (void)sig;
  exercise_requested = 1;
}

static socklen_t addr_of(struct sockaddr_un *a, const char *name, int abstract) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  size_t n = strlen(name);
  if (abstract) {
    memcpy(a->sun_path + 1, name, n);
    return offsetof(struct sockaddr_un, sun_path) + 1 + n;
  }
  memcpy(a->sun_path, name, n);
  return offsetof(struct sockaddr_un, sun_path) + n + 1;
}

static int bound(int type, const char *name, int abstract) {
  int fd = socket(AF_UNIX, type, 0);
  struct sockaddr_un a;
  socklen_t len = addr_of(&a, name, abstract);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) < 0) die(name);
  return fd;
}

static int connected(int type, const char *name) {
  int fd = socket(AF_UNIX, type, 0);
  struct sockaddr_un a;
  socklen_t len = addr_of(&a, name, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, len) < 0) die(name);
  return fd;
}

static void put(int fd, const char *msg) {
  if (send(fd, msg, strlen(msg), MSG_NOSIGNAL) != (ssize_t)strlen(msg)) die("send");
}

static void put_to(const char *name, int abstract, const char *msg) {
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un a;
  socklen_t len = addr_of(&a, name, abstract);
  if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&a, len) != (ssize_t)strlen(msg)) die("sendto");
  close(fd);
}

static int setint(int fd, int opt, int v) { return setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v); }
static int getint(int fd, int opt) {
  int v = -1;
  socklen_t l = sizeof v;
  getsockopt(fd, SOL_SOCKET, opt, &v, &l);
  return v;
}

static void name_text(char *out, size_t size, struct sockaddr_un *a, socklen_t len) {
  size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
  if (n == 0) snprintf(out, size, "-");
  else if (a->sun_path[0] == 0) snprintf(out, size, "@%.*s", (int)n - 1, a->sun_path + 1);
  else snprintf(out, size, "%s", a->sun_path);
}

static char *state_of(char *out, size_t size, const char *key, int fd) {
  struct sockaddr_un a;
  socklen_t len = sizeof a;
  char self[128], peer[128];
  if (getsockname(fd, (struct sockaddr *)&a, &len) < 0) snprintf(self, sizeof self, "ERR");
  else name_text(self, sizeof self, &a, len);
  len = sizeof a;
  if (getpeername(fd, (struct sockaddr *)&a, &len) < 0) snprintf(peer, sizeof peer, "%s", errno == ENOTCONN ? "none" : "ERR");
  else name_text(peer, sizeof peer, &a, len);
  struct timeval tv = {0, 0};
  socklen_t tl = sizeof tv;
  getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &tl);
  int inq = -1;
  if (ioctl(fd, SIOCINQ, &inq) < 0) inq = -1;
  snprintf(out, size, "%s=%d/%d/%d/%d/%d/%d/%d/%ld/%d/%d/%s/%s", key, getint(fd, SO_TYPE), (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0,
           getint(fd, SO_SNDBUF), getint(fd, SO_RCVBUF), getint(fd, SO_PASSCRED), getint(fd, SO_REUSEADDR), getint(fd, SO_PRIORITY),
           tv.tv_sec * 1000 + tv.tv_usec / 1000, inq, getint(fd, SO_ACCEPTCONN), self, peer);
  return out;
}

// Everything queued, without blocking: messages joined with '|' (stream: one run of bytes).
static void drain(char *out, size_t size, const char *key, int fd, int stream) {
  char buf[4096];
  size_t off = (size_t)snprintf(out, size, "%s_q=", key);
  int first = 1;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n <= 0) break;
    buf[n] = 0;
    off += (size_t)snprintf(out + off, size - off, "%s%s", first || stream ? "" : "|", buf);
    first = 0;
  }
  if (first) snprintf(out + off, size - off, "-");
}

// Sends "ping" a→b and "pong" b→a (unless one_way) and reads them back.
static int flow(int a, int b, int one_way) {
  char buf[64];
  put(a, "ping");
  struct pollfd p = {b, POLLIN, 0};
  if (poll(&p, 1, 2000) != 1 || recv(b, buf, sizeof buf, MSG_DONTWAIT) != 4 || memcmp(buf, "ping", 4) != 0) return 0;
  if (one_way) return 1;
  put(b, "pong");
  struct pollfd q = {a, POLLIN, 0};
  return poll(&q, 1, 2000) == 1 && recv(a, buf, sizeof buf, MSG_DONTWAIT) == 4 && memcmp(buf, "pong", 4) == 0;
}

int main(int argc, char **argv) {
  open_report(argc, argv);
  if (argc < 3) die("usage: unix_sockets LOG DIR [external PATH | pending]");
  if (chdir(argv[2]) < 0) die(argv[2]);
  install_report_handler(SA_RESTART);
  install_handler(SIGUSR2, on_usr2, SA_RESTART);
  char path[200];

  if (argc > 3 && strcmp(argv[3], "external") == 0) {
    int ext = connected(SOCK_STREAM, argv[4]);
    put(ext, "hi\n");
    ready();
    for (;;) pause();
  }
  if (argc > 3 && strcmp(argv[3], "pending") == 0) {
    snprintf(path, sizeof path, "%s/pending.sock", argv[2]);
    int l = bound(SOCK_STREAM, path, 0);
    if (listen(l, 4) < 0) die("listen");
    int c = connected(SOCK_STREAM, path);
    (void)c;
    ready();
    for (;;) pause();
  }

  int ss[2], ds[2], qs[2], sh[2], sr[2], or[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, ss) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, ds) < 0 ||
      socketpair(AF_UNIX, SOCK_SEQPACKET, 0, qs) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sh) < 0 ||
      socketpair(AF_UNIX, SOCK_STREAM, 0, sr) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, or) < 0)
    die("socketpair");
  if (fcntl(ss[0], F_SETFL, O_NONBLOCK) < 0 || setint(ss[0], SO_SNDBUF, 65536) < 0 || setint(ss[1], SO_RCVBUF, 100000) < 0) die("ss opts");
  put(ss[0], "stream-a2b-1");
  put(ss[0], "stream-a2b-2");
  put(ss[1], "stream-b2a");
  if (setint(ds[1], SO_PASSCRED, 1) < 0) die("passcred");
  put(ds[0], "d1");
  put(ds[0], "dd2");
  put(ds[0], "ddd3");
  put(ds[1], "r1");
  put(qs[0], "s1");
  put(qs[0], "ss2");
  put(qs[1], "sr");

  snprintf(path, sizeof path, "%s/listen.sock", argv[2]);
  int lst = bound(SOCK_STREAM, path, 0);
  if (setint(lst, SO_REUSEADDR, 1) < 0 || listen(lst, 7) < 0 || fcntl(lst, F_SETFL, O_NONBLOCK) < 0) die("listen");
  int cli = connected(SOCK_STREAM, path);
  int srv = accept(lst, NULL, NULL);
  if (srv < 0) die("accept");
  struct timeval tv = {1, 500000};
  if (setint(cli, SO_PRIORITY, 3) < 0 || setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) die("cli/srv opts");
  put(cli, "hello-from-client");
  put(srv, "hello-from-server");

  char absname[64];
  snprintf(absname, sizeof absname, "cryo-unix-%d", (int)getpid());
  int abs_ = bound(SOCK_DGRAM, absname, 1);
  put_to(absname, 1, "abstract-msg");

  snprintf(path, sizeof path, "%s/dgram.sock", argv[2]);
  int dgb = bound(SOCK_DGRAM, path, 0);
  int dgc = connected(SOCK_DGRAM, path);
  put(dgc, "to-b-1");
  put(dgc, "to-b-2");

  int rel = bound(SOCK_DGRAM, "rel.sock", 0);
  put_to("rel.sock", 0, "rel-msg");

  put(sh[0], "last-words");
  if (shutdown(sh[0], SHUT_WR) < 0 || shutdown(sr[0], SHUT_RD) < 0) die("shutdown");
  put(or[1], "orphan-data");
  close(or[1]);
  snprintf(path, sizeof path, "%s/deleted.sock", argv[2]);
  int dl = bound(SOCK_DGRAM, path, 0);
  if (unlink(path) < 0) die("unlink");

  const struct { const char *key; int fd; int stream; } all[] = {
      {"ss0", ss[0], 1}, {"ss1", ss[1], 1}, {"ds0", ds[0], 0}, {"ds1", ds[1], 0}, {"qs0", qs[0], 0}, {"qs1", qs[1], 0},
      {"lst", lst, 1},   {"cli", cli, 1},   {"srv", srv, 1},   {"abs", abs_, 0}, {"dgb", dgb, 0}, {"dgc", dgc, 0},
      {"rel", rel, 0},   {"sh0", sh[0], 1}, {"sh1", sh[1], 1}, {"sr0", sr[0], 1}, {"sr1", sr[1], 1},
      {"or0", or[0], 1}, {"dl", dl, 0},
  };
  const int n = sizeof all / sizeof all[0];
  ready();
  for (;;) {
    sleep_ms(20);
    char line[8192], part[512];
    if (report_requested) {
      report_requested = 0;
      size_t off = 0;
      for (int i = 0; i < n; i++) off += (size_t)snprintf(line + off, sizeof line - off, "%s ", state_of(part, sizeof part, all[i].key, all[i].fd));
      say("%s", line);
    }
    if (exercise_requested) {
      exercise_requested = 0;
      size_t off = 0;
      for (int i = 0; i < n; i++) {
        if (all[i].fd == lst) continue;
        drain(part, sizeof part, all[i].key, all[i].fd, all[i].stream);
        off += (size_t)snprintf(line + off, sizeof line - off, "%s ", part);
      }
      char buf[16];
      int sh1_eof = recv(sh[1], buf, sizeof buf, MSG_DONTWAIT) == 0;
      int sh0_epipe = send(sh[0], "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE;
      int sr1_epipe = send(sr[1], "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE;
      int sr0_eof = recv(sr[0], buf, sizeof buf, MSG_DONTWAIT) == 0;
      int or0_eof = recv(or[0], buf, sizeof buf, MSG_DONTWAIT) == 0;
      off += (size_t)snprintf(line + off, sizeof line - off, "flow_ss=%s flow_ds=%s flow_qs=%s flow_conn=%s flow_dg=%s sh1_eof=%d sh0_epipe=%d sr1_epipe=%d sr0_eof=%d or0_eof=%d ",
                              okbad(flow(ss[0], ss[1], 0)), okbad(flow(ds[0], ds[1], 0)), okbad(flow(qs[0], qs[1], 0)),
                              okbad(flow(cli, srv, 0)), okbad(flow(dgc, dgb, 1)), sh1_eof, sh0_epipe, sr1_epipe, sr0_eof, or0_eof);
      struct pollfd p = {lst, POLLIN, 0};
      char got[128] = "-";
      if (poll(&p, 1, 3000) == 1) {
        int c = accept(lst, NULL, NULL);
        struct pollfd q = {c, POLLIN, 0};
        ssize_t r = c >= 0 && poll(&q, 1, 3000) == 1 ? recv(c, got, sizeof got - 1, 0) : -1;
        if (r > 0) {
          got[r] = 0;
          got[strcspn(got, "\r\n")] = 0;
          char reply[160];
          snprintf(reply, sizeof reply, "pong:%s\n", got);
          put(c, reply);
        }
        if (c >= 0) close(c);
      }
      snprintf(line + off, sizeof line - off, "accepted=%s", got);
      say("%s", line);
    }
  }
}
