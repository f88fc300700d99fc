// Kernel objects shared between the processes of a tree (zdtm: pipe02, pipe03 (F_SETPIPE_SZ),
// socket_queues, sockets02, fifo_wronly, eventfs00, epoll01, socket-tcp listen shared, file_shared).
// The root R and two workers W1, W2 (forked by R) share:
//   - a pipe of 256 KiB (F_SETPIPE_SZ) holding PIPE_Q bytes: R writes, W1 reads;
//   - a unix socketpair, one end in R, the other in W2, bytes queued both ways;
//   - a unix stream listener of R (LOG.sock): R accepted W1's connection, bytes queued both ways;
//     after that R answers every new connection on it with "hello-from-R\n";
//   - a FIFO (LOG.fifo) opened by W2 (reader) and R (writer), with bytes queued;
//   - an eventfd with counter EFD_COUNT (inherited by all);
//   - a TCP listener on 127.0.0.1 (inherited by all): W1 (poll + accept) and W2 (an epoll set
//     over the listener and a periodic timerfd, both inherited) each serve one connection at a
//     time: "who=W1 pid=N\n", then they hold the connection until the client closes it;
//   - a regular file (LOG.shared) opened once by R: one offset for all.
// Startup prints "port= pipe_q= pipe_sum= sp_r_q= sp_r_sum= ... w1= w2=" and "ready".
// SIGUSR1 to R: R and then each worker drains what is queued for it and reports
//   who=X drained=NAME:BYTES:SUM,... plus its own facts, and appends "X\n" to the shared file.
#include "target.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define PIPE_SIZE (256 * 1024)
#define PIPE_Q 200000   // more than a default pipe (64 KiB) holds
#define SP_R_Q 5000     // queued in R's end of the pair (sent by W2)
#define SP_W_Q 7000     // queued in W2's end (sent by R)
#define ACC_Q 3000      // queued in R's accepted end (sent by W1)
#define CLI_Q 4000      // queued in W1's client end (sent by R)
#define FIFO_Q 6000
#define EFD_COUNT 42

static int pipe_fd[2], sp[2], efd, tfd, tcp_l, unix_l, acc, cli, fifo_r, fifo_w, shared;
static const char *who = "R";
static pid_t workers[2];

static unsigned char byte_of(int stream, int i) { return (unsigned char)(i * (stream * 2 + 1) + stream); }

static void fill(int fd, int stream, int n) {
  unsigned char buf[4096];
  for (int off = 0; off < n;) {
    int k = n - off < (int)sizeof buf ? n - off : (int)sizeof buf;
    for (int i = 0; i < k; i++) buf[i] = byte_of(stream, off + i);
    ssize_t w = write(fd, buf, k);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("fill");
    off += w;
  }
}

// Everything readable now (the fd is non-blocking), as "name:bytes:sum".
static char *drain(char *out, const char *name, int fd) {
  unsigned char buf[4096];
  long total = 0, sum = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++) sum += buf[i];
    total += n;
  }
  return out + sprintf(out, "%s%s:%ld:%ld", out[-1] == '=' ? "" : ",", name, total, sum);
}

static void append_shared(void) {
  char line[8];
  int n = snprintf(line, sizeof line, "%s\n", who);
  if (write(shared, line, n) != n) die("write shared");
}

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// One connection at a time: say who we are, hold it until the client closes it.
static void serve(int conn) {
  char hello[64];
  int n = snprintf(hello, sizeof hello, "who=%s pid=%d\n", who, getpid());
  if (write(conn, hello, n) != n) die("write hello");
  char c;
  for (;;) {
    ssize_t r = read(conn, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
  }
  close(conn);
}

static uint64_t ticks;
static void report_worker(void) {
  char line[1024] = "drained=", *p = line + strlen(line);
  if (strcmp(who, "W1") == 0) {
    p = drain(p, "pipe", pipe_fd[0]);
    p = drain(p, "cli", cli);
    say("who=W1 pid=%d pipe_size=%d %s", getpid(), fcntl(pipe_fd[0], F_GETPIPE_SZ), line);
  } else {
    p = drain(p, "sp", sp[1]);
    p = drain(p, "fifo", fifo_r);
    say("who=W2 pid=%d ticks=%llu %s", getpid(), (unsigned long long)ticks, line);
  }
  append_shared();
}

static int accept_one(void) {
  int c = accept4(tcp_l, NULL, NULL, SOCK_CLOEXEC);
  if (c >= 0) {
    // The listener is non-blocking (for the epoll worker); the connection must block.
    fcntl(c, F_SETFL, 0);
  } else if (errno != EAGAIN && errno != EINTR) {
    die("accept");
  }
  return c;
}

static void worker1(int ready_fd) {
  who = "W1";
  close(pipe_fd[1]);
  nonblock(pipe_fd[0]);
  cli = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  getsockname(unix_l, (struct sockaddr *)&sun, &(socklen_t){sizeof sun});
  if (cli < 0 || connect(cli, (struct sockaddr *)&sun, sizeof sun) < 0) die("connect unix");
  fill(cli, 4, ACC_Q);
  nonblock(cli);
  if (write(ready_fd, "x", 1) != 1) die("ready");
  for (;;) {
    if (report_requested) {
      report_requested = 0;
      report_worker();
    }
    struct pollfd pfd = {.fd = tcp_l, .events = POLLIN};
    if (poll(&pfd, 1, 50) > 0) {
      int c = accept_one();
      if (c >= 0) serve(c);
    }
  }
}

#define D_LISTEN 1
#define D_TIMER 2
static void worker2(int ready_fd) {
  who = "W2";
  nonblock(sp[1]);
  fifo_r = open(getenv("IPC_FIFO"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fifo_r < 0) die("open fifo");
  fill(sp[1], 1, SP_R_Q);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = D_LISTEN};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tcp_l, &ev) < 0) die("epoll listener");
  ev.data.u64 = D_TIMER;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) die("epoll timerfd");
  if (write(ready_fd, "x", 1) != 1) die("ready");
  for (;;) {
    if (report_requested) {
      report_requested = 0;
      report_worker();
    }
    struct epoll_event evs[4];
    int n = epoll_wait(ep, evs, 4, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u64 == D_TIMER) {
        uint64_t v;
        while (read(tfd, &v, sizeof v) == sizeof v) ticks += v;
      } else {
        int c = accept_one();
        if (c >= 0) serve(c);
      }
    }
  }
}

static long expected_sum(int stream, int n) {
  long s = 0;
  for (int i = 0; i < n; i++) s += byte_of(stream, i);
  return s;
}

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(0);  // no SA_RESTART: blocked reads and waits see EINTR and report
  const char *base = argc > 1 ? argv[1] : "/tmp/ipc_tree";
  char path[4096];

  if (pipe2(pipe_fd, O_CLOEXEC) < 0 || fcntl(pipe_fd[1], F_SETPIPE_SZ, PIPE_SIZE) < 0) die("pipe");
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) die("socketpair");
  efd = eventfd(EFD_COUNT, EFD_NONBLOCK | EFD_CLOEXEC);
  tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct itimerspec its = {{0, 20 * 1000 * 1000}, {0, 20 * 1000 * 1000}};
  if (efd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) die("eventfd/timerfd");

  tcp_l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sin;
  if (tcp_l < 0 || bind(tcp_l, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(tcp_l, 16) < 0) die("tcp listen");
  getsockname(tcp_l, (struct sockaddr *)&sin, &sl);

  unix_l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s.sock", base);
  unlink(sun.sun_path);
  if (unix_l < 0 || bind(unix_l, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(unix_l, 8) < 0) die("unix listen");

  snprintf(path, sizeof path, "%s.fifo", base);
  unlink(path);
  if (mkfifo(path, 0600) < 0) die("mkfifo");
  setenv("IPC_FIFO", path, 1);

  snprintf(path, sizeof path, "%s.shared", base);
  shared = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (shared < 0 || write(shared, "start\n", 6) != 6) die("shared file");

  int rd[2];
  if (pipe(rd) < 0) die("pipe");
  for (int i = 0; i < 2; i++) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      close(rd[0]);
      if (i == 0) worker1(rd[1]);
      else worker2(rd[1]);
    }
    workers[i] = pid;
  }
  close(rd[1]);
  close(pipe_fd[0]);
  close(sp[1]);
  for (int got = 0; got < 2;) {
    char c;
    ssize_t n = read(rd[0], &c, 1);
    if (n == 1) got++;
    else if (n < 0 && errno != EINTR) die("read ready");
    else if (n == 0) die("a worker died");
  }
  close(rd[0]);
  acc = accept4(unix_l, NULL, NULL, SOCK_CLOEXEC);
  fifo_w = open(getenv("IPC_FIFO"), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (acc < 0 || fifo_w < 0) die("accept / open fifo");
  fill(pipe_fd[1], 0, PIPE_Q);
  fill(sp[0], 2, SP_W_Q);
  fill(acc, 3, CLI_Q);
  fill(fifo_w, 5, FIFO_Q);
  nonblock(sp[0]);
  nonblock(acc);
  nonblock(unix_l);
  printf("port=%d pipe_q=%d pipe_sum=%ld sp_r_q=%d sp_r_sum=%ld sp_w_q=%d sp_w_sum=%ld acc_q=%d acc_sum=%ld cli_q=%d cli_sum=%ld fifo_q=%d fifo_sum=%ld efd=%d w1=%d w2=%d\n",
         ntohs(sin.sin_port), PIPE_Q, expected_sum(0, PIPE_Q), SP_R_Q, expected_sum(1, SP_R_Q), SP_W_Q, expected_sum(2, SP_W_Q), ACC_Q,
         expected_sum(4, ACC_Q), CLI_Q, expected_sum(3, CLI_Q), FIFO_Q, expected_sum(5, FIFO_Q), EFD_COUNT, workers[0], workers[1]);
  printf("fds tcp_l=%d efd=%d tfd=%d shared=%d\n", tcp_l, efd, tfd, shared);
  ready();
  for (;;) {
    if (report_requested) {
      report_requested = 0;
      char line[1024] = "drained=", *p = line + strlen(line);
      p = drain(p, "sp", sp[0]);
      p = drain(p, "acc", acc);
      uint64_t v = 0;
      if (read(efd, &v, sizeof v) != sizeof v) v = 0;
      say("who=R pid=%d efd=%llu %s", getpid(), (unsigned long long)v, line);
      append_shared();
      for (int i = 0; i < 2; i++) kill(workers[i], SIGUSR1);
    }
    int c = accept4(unix_l, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0) {
      if (write(c, "hello-from-R\n", 13) != 13) {}
      close(c);
    }
    sleep_ms(10);
  }
}
