// A process tree (zdtm: zombie00, pstree, sessions, fd sharing): the root (a session leader)
// with children in its group (A), in a group of their own (B, with grandchild C), in a
// session of their own (S), sharing the root's fd table and fs (F, clone(CLONE_FILES|CLONE_FS)),
// and two zombies (Z exited 7, K killed by SIGKILL) it has not waited for. A pipe from the root
// to A holds bytes A has not read yet.
// SIGUSR1 to the root: every process appends "who=X pid= ppid= pgid= sid= count=" to the
// report; A first drains the pipe (pipe_bytes=, pipe_sum=). SIGUSR2 to the root: it waits for
// Z, K and (after SIGTERM) A, and reports their wait statuses.
#include "target.h"
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>

#define QUEUED 3000

static volatile sig_atomic_t reap_requested;
static void on_reap(int sig) {
  (void)sig;
  reap_requested = 1;
}

static int pipe_fd[2];
static const char *who = "root";
static pid_t grandchild; // B's child C
static volatile long b_thread_count; // B's second thread
static long count;

static void report_self(void) {
  say("who=%s pid=%d ppid=%d pgid=%d sid=%d count=%ld thread_count=%ld", who, getpid(), getppid(), getpgid(0), getsid(0), count, b_thread_count);
}

static int drain_pipe(void) {
  unsigned char buf[4096];
  long total = 0, sum = 0;
  for (;;) {
    ssize_t n = read(pipe_fd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++) sum += buf[i];
    total += n;
  }
  say("who=A pipe_bytes=%ld pipe_sum=%ld", total, sum);
  return 0;
}

// Every process but the root: count, report on SIGUSR1.
static void child_loop(int ready_fd) {
  if (write(ready_fd, "x", 1) != 1) die("ready");
  for (;;) {
    count++;
    if (report_requested) {
      report_requested = 0;
      if (strcmp(who, "A") == 0) drain_pipe();
      if (grandchild > 0) kill(grandchild, SIGUSR1);
      report_self();
    }
    sleep_ms(10);
  }
}

static int start(const char *name, int ready_fd, void (*setup)(void)) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    who = name;
    if (setup) setup();
    child_loop(ready_fd);
  }
  return pid;
}

static int grand_ready;
static void setup_a(void) {
  close(pipe_fd[1]);
  fcntl(pipe_fd[0], F_SETFL, O_NONBLOCK);
}
// B also runs a second thread (threads in a process that is not the root), counting on its own.
static void *b_thread(void *arg) {
  (void)arg;
  for (;;) {
    b_thread_count++;
    sleep_ms(10);
  }
  return NULL;
}

static void setup_b(void) {
  if (setpgid(0, 0) < 0) die("setpgid");
  pthread_t th;
  if (pthread_create(&th, NULL, b_thread, NULL) != 0) die("pthread_create");
  grandchild = start("C", grand_ready, NULL);
}
static void setup_s(void) {
  if (setsid() < 0) die("setsid");
}

static int shared_child(void *arg) {
  who = "F";
  child_loop(*(int *)arg);
  return 0;
}

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  signal(SIGUSR2, on_reap);
  if (pipe(pipe_fd) < 0) die("pipe");
  // fd 20: one open file description (one offset) that every process inherits.
  char shared_path[4096];
  snprintf(shared_path, sizeof shared_path, "%s.shared", argc > 1 ? argv[1] : "/tmp/tree");
  int shared = open(shared_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (shared < 0 || dup2(shared, 20) < 0 || write(20, "12345", 5) != 5) die("shared file");
  close(shared);
  int rd[2];
  if (pipe(rd) < 0) die("pipe");
  grand_ready = rd[1];
  pid_t a = start("A", rd[1], setup_a);
  close(pipe_fd[0]);
  pid_t kids[4] = {a, start("B", rd[1], setup_b), start("S", rd[1], setup_s), 0};
  static char stack[64 * 1024];
  kids[3] = clone(shared_child, stack + sizeof stack, CLONE_FILES | CLONE_FS | SIGCHLD, &rd[1]);
  if (kids[3] < 0) die("clone");
  pid_t z = fork();
  if (z == 0) _exit(7);
  pid_t k = fork();
  if (k == 0) {
    raise(SIGKILL);
    _exit(1);
  }
  // A: 2 processes from B (B, C), S, F, A.
  for (int got = 0; got < 5;) {
    char c;
    ssize_t n = read(rd[0], &c, 1);
    if (n == 1) got++;
    else if (n < 0 && errno != EINTR) die("read ready");
  }
  unsigned char data[QUEUED];
  long sum = 0;
  for (int i = 0; i < QUEUED; i++) {
    data[i] = (unsigned char)(i * 7 + 3);
    sum += data[i];
  }
  if (write(pipe_fd[1], data, QUEUED) != QUEUED) die("write pipe");
  // Both zombies must be zombies before "ready".
  siginfo_t si;
  while (waitid(P_PID, z, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
  while (waitid(P_PID, k, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
  printf("queued=%d sum=%ld a=%d b=%d s=%d f=%d z=%d k=%d\n", QUEUED, sum, a, kids[1], kids[2], kids[3], z, k);
  ready();
  for (;;) {
    count++;
    if (report_requested) {
      report_requested = 0;
      report_self();
      // The children report too (they inherit the handler); A drains the pipe first, B passes it on to C.
      for (int i = 0; i < 4; i++) kill(kids[i], SIGUSR1);
    }
    if (reap_requested) {
      reap_requested = 0;
      int st_z = -1, st_k = -1, st_a = -1;
      waitpid(z, &st_z, 0);
      waitpid(k, &st_k, 0);
      kill(a, SIGTERM);
      waitpid(a, &st_a, 0);
      say("who=root reaped z=%d k=%d a=%d", st_z, st_k, st_a);
    }
    sleep_ms(10);
  }
}
