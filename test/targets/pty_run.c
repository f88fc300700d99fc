// pty_run [--fork] CMD ARGS…: runs CMD on a new pty, as a terminal emulator would, and relays:
// its own stdin is typed into the terminal, what the terminal shows goes to its stdout. The
// child is a session leader with the pty's slave as controlling terminal and as stdio; with
// --fork it forks CMD as a job of that session (not a session or group leader: a shell job)
// and waits for it. Prints "pts=PATH child=PID" on stderr first. Exits with the child's status
// once the child exited and the terminal has nothing more to show (or no slave is open).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(120);
}

static void write_all(int fd, const char *buf, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    buf += w;
    n -= w;
  }
}

int main(int argc, char **argv) {
  int fork_job = argc > 1 && strcmp(argv[1], "--fork") == 0;
  char **cmd = argv + 1 + fork_job;
  if (!*cmd) {
    fprintf(stderr, "usage: pty_run [--fork] CMD ARGS...\n");
    return 120;
  }
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) die("ptmx");
  char *pts = ptsname(master);
  if (!pts) die("ptsname");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(master);
    if (setsid() < 0) die("setsid");
    int s = open(pts, O_RDWR | O_NOCTTY);
    if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0) die(pts);
    dup2(s, 0);
    dup2(s, 1);
    dup2(s, 2);
    if (s > 2) close(s);
    if (fork_job) {
      pid_t job = fork();
      if (job < 0) die("fork");
      if (job == 0) {
        execvp(cmd[0], cmd);
        die(cmd[0]);
      }
      int st;
      while (waitpid(job, &st, 0) < 0 && errno == EINTR) {
      }
      _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    execvp(cmd[0], cmd);
    die(cmd[0]);
  }
  fprintf(stderr, "pts=%s child=%d\n", pts, (int)child);
  fflush(stderr);
  int in_open = 1, status = -1;
  char buf[4096];
  for (;;) {
    struct pollfd p[2] = {{master, POLLIN, 0}, {0, in_open ? POLLIN : 0, 0}};
    int r = poll(p, 2, 100);
    if (r < 0 && errno != EINTR) die("poll");
    if (p[0].revents) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n > 0) write_all(1, buf, n);
      else if (status >= 0 || n < 0) break; // EIO: no slave is open any more
    }
    if (in_open && p[1].revents) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0) write_all(master, buf, n);
      else in_open = 0;
    }
    if (status < 0) {
      int st;
      if (waitpid(child, &st, WNOHANG) == child) status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    } else if (!(p[0].revents & POLLIN)) {
      break;
    }
  }
  if (status < 0) {
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  return status;
}
