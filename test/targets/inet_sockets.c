// inet_sockets LOG [est | peer PORT]: IPv4/IPv6 sockets.
// Always: TCP listeners on 127.0.0.1 (SO_REUSEADDR), 0.0.0.0 (SO_REUSEPORT), [::1] (IPV6_V6ONLY)
// and [::] (dual-stack), all on ephemeral ports; a UDP socket bound to 127.0.0.1 and a second one
// bound and connected to the first. The main loop accepts on every listener (reads one line,
// answers "echo:LINE\n", closes) and answers each datagram to the bound UDP socket with
// "udp:DATA" to its sender.
// est: also an established loopback pair (client c → accepted a on the 127.0.0.1 listener) with
// unread bytes queued both ways ("c2a-queued" in a, "a2c-queued" in c).
// peer PORT: also a client connected to 127.0.0.1:PORT (a server outside the task).
// SIGUSR1 appends: l4=P l4any=P l6=P l6dual=P u1=P u2=P u2peer=P and each socket's options
// (l4_reuseaddr, l4any_reuseport, l6_v6only, l6dual_v6only), udp_pair=ok|BAD (u2 → u1 datagram),
// est: a_inq=N c_inq=N (bytes queued, not read); peer: p_inq=N.
// SIGUSR2 (est): reads the queued bytes and exchanges new ones, appends
//   a_got=DATA c_got=DATA exchange=ok|BAD
// SIGUSR2 (peer): reads what the server sent and answers "echo:DATA", appends p_got=DATA.
#include "target.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static volatile sig_atomic_t check_requested;
static void on_check(int sig) {
  (void)sig;
  check_requested = 1;
}

static int listener(int family, const char *addr, int opt, int val) {
  int s = socket(family, SOCK_STREAM, 0);
  if (s < 0) die("socket");
  if (opt == IPV6_V6ONLY) {
    if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &val, sizeof val) < 0) die("v6only");
  } else if (setsockopt(s, SOL_SOCKET, opt, &val, sizeof val) < 0) {
    die("setsockopt");
  }
  struct sockaddr_storage ss = {0};
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &a->sin_addr);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, addr, &a->sin6_addr);
    len = sizeof *a;
  }
  if (bind(s, (struct sockaddr *)&ss, len) < 0) die("bind");
  if (listen(s, 16) < 0) die("listen");
  return s;
}

static int port_of(int s) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(s, (struct sockaddr *)&ss, &len) < 0) return -1;
  return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int peer_port_of(int s) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  if (getpeername(s, (struct sockaddr *)&a, &len) < 0) return -1;
  return ntohs(a.sin_port);
}

static int opt_of(int s, int level, int opt) {
  int v = -1;
  socklen_t len = sizeof v;
  getsockopt(s, level, opt, &v, &len);
  return v;
}

static int inq(int s) {
  int n = -1;
  ioctl(s, FIONREAD, &n);
  return n;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int connect_to(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(port);
  if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  return s;
}

// Reads what is queued (waiting up to 1 s for the first byte), NUL-terminated, newlines kept out.
static void read_some(int s, char *buf, size_t size) {
  struct pollfd p = {s, POLLIN, 0};
  buf[0] = 0;
  if (poll(&p, 1, 1000) <= 0) return;
  ssize_t n = recv(s, buf, size - 1, MSG_DONTWAIT);
  if (n < 0) n = 0;
  buf[n] = 0;
  for (char *c = buf; *c; c++)
    if (*c == '\n' || *c == ' ') *c = '_';
}

static void serve(int l) {
  int c = accept(l, NULL, NULL);
  if (c < 0) return;
  char line[256];
  read_some(c, line, sizeof line);
  char out[300];
  int n = snprintf(out, sizeof out, "echo:%s\n", line);
  if (write(c, out, n) != n) perror("write");
  close(c);
}

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  struct sigaction sa = {0};
  sa.sa_handler = on_check;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  const char *mode = argc > 2 ? argv[2] : "";

  int ls[4];
  ls[0] = listener(AF_INET, "127.0.0.1", SO_REUSEADDR, 1);
  ls[1] = listener(AF_INET, "0.0.0.0", SO_REUSEPORT, 1);
  ls[2] = listener(AF_INET6, "::1", IPV6_V6ONLY, 1);
  ls[3] = listener(AF_INET6, "::", IPV6_V6ONLY, 0);

  int u1 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a1 = loopback(0);
  if (u1 < 0 || bind(u1, (struct sockaddr *)&a1, sizeof a1) < 0) die("udp bind");
  int u2 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a2 = loopback(0);
  if (u2 < 0 || bind(u2, (struct sockaddr *)&a2, sizeof a2) < 0) die("udp2 bind");
  struct sockaddr_in to = loopback(port_of(u1));
  if (connect(u2, (struct sockaddr *)&to, sizeof to) < 0) die("udp connect");

  int c = -1, a = -1, p = -1;
  if (strcmp(mode, "est") == 0) {
    c = connect_to(port_of(ls[0]));
    a = accept(ls[0], NULL, NULL);
    if (a < 0) die("accept");
    if (write(c, "c2a-queued", 10) != 10 || write(a, "a2c-queued", 10) != 10) die("write");
    while (inq(a) < 10 || inq(c) < 10) sleep_ms(1);
  } else if (strcmp(mode, "peer") == 0 && argc > 3) {
    p = connect_to(atoi(argv[3]));
  }
  ready();

  for (;;) {
    struct pollfd pf[5];
    for (int i = 0; i < 4; i++) pf[i] = (struct pollfd){ls[i], POLLIN, 0};
    pf[4] = (struct pollfd){u1, POLLIN, 0};
    poll(pf, 5, 50);
    for (int i = 0; i < 4; i++)
      if (pf[i].revents & POLLIN) serve(ls[i]);
    if (pf[4].revents & POLLIN) {
      char buf[256], out[300];
      struct sockaddr_storage from;
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom(u1, buf, sizeof buf - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
      if (n >= 0) {
        buf[n] = 0;
        int m = snprintf(out, sizeof out, "udp:%s", buf);
        if (sendto(u1, out, m, 0, (struct sockaddr *)&from, fl) < 0) perror("sendto");
      }
    }
    if (report_requested) {
      report_requested = 0;
      // u2 → u1 over the connected socket; u1 answers to u2's address.
      char pair[64] = "";
      if (send(u2, "pair", 4, 0) == 4) {
        struct pollfd q = {u1, POLLIN, 0};
        char buf[64];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        if (poll(&q, 1, 1000) == 1 && recvfrom(u1, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 4 &&
            ntohs(from.sin_port) == port_of(u2))
          strcpy(pair, "ok");
      }
      char extra[256] = "";
      if (a >= 0) snprintf(extra, sizeof extra, " a_inq=%d c_inq=%d", inq(a), inq(c));
      if (p >= 0) snprintf(extra, sizeof extra, " p_inq=%d", inq(p));
      say("l4=%d l4any=%d l6=%d l6dual=%d u1=%d u2=%d u2peer=%d l4_reuseaddr=%d l4any_reuseport=%d l6_v6only=%d "
          "l6dual_v6only=%d udp_pair=%s%s",
          port_of(ls[0]), port_of(ls[1]), port_of(ls[2]), port_of(ls[3]), port_of(u1), port_of(u2), peer_port_of(u2),
          opt_of(ls[0], SOL_SOCKET, SO_REUSEADDR), opt_of(ls[1], SOL_SOCKET, SO_REUSEPORT),
          opt_of(ls[2], IPPROTO_IPV6, IPV6_V6ONLY), opt_of(ls[3], IPPROTO_IPV6, IPV6_V6ONLY), pair[0] ? pair : "BAD",
          extra);
    }
    if (check_requested) {
      check_requested = 0;
      if (a >= 0) {
        char ga[64], gc[64], na[64], nc[64];
        read_some(a, ga, sizeof ga);
        read_some(c, gc, sizeof gc);
        int ok = write(c, "c2a-new", 7) == 7 && write(a, "a2c-new", 7) == 7;
        read_some(a, na, sizeof na);
        read_some(c, nc, sizeof nc);
        ok = ok && strcmp(na, "c2a-new") == 0 && strcmp(nc, "a2c-new") == 0;
        say("a_got=%s c_got=%s exchange=%s", ga, gc, okbad(ok));
      }
      if (p >= 0) {
        char got[256], out[300];
        read_some(p, got, sizeof got);
        int n = snprintf(out, sizeof out, "echo:%s\n", got);
        int ok = write(p, out, n) == n;
        say("p_got=%s p_write=%s", got, okbad(ok));
      }
    }
  }
}
