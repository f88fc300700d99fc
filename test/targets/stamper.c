// stamper LOG [MIB=32]: keeps writing its memory, for --leave-running snapshots. Pass after pass
// it stamps the first word of every page of MIB MiB with the pass number, in order, so that at
// any instant its pages hold one pass up to some page and the pass before from there on: memory
// copied from it at one instant has at most one step, of one; copied while it runs, more.
// Counts the SIGCHLDs it gets. On SIGUSR1 appends
//   pass=N addr=HEX pages=P sigchld=K children=none|PID
// children: what waitpid(-1, WNOHANG|__WALL) finds — a child of any kind would be a trace of a fork.
#include "target.h"
#include <sys/mman.h>
#include <sys/wait.h>

static volatile sig_atomic_t sigchlds;
static void on_chld(int sig) {
  (void)sig;
  sigchlds++;
}

int main(int argc, char **argv) {
  long mib = argc > 2 ? atol(argv[2]) : 32;
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  install_handler(SIGCHLD, on_chld, SA_RESTART);
  size_t pages = (size_t)mib << 8;
  volatile uint64_t *mem = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) die("mmap");
  uint64_t pass = 1;
  for (size_t i = 0; i < pages; i++) mem[i * 512] = pass;
  ready();
  for (;;) {
    pass++;
    for (size_t i = 0; i < pages; i++) mem[i * 512] = pass;
    if (report_requested) {
      report_requested = 0;
      int st;
      pid_t child = waitpid(-1, &st, WNOHANG | __WALL);
      char who[32] = "none";
      if (child > 0) snprintf(who, sizeof who, "%d", (int)child);
      say("pass=%llu addr=%lx pages=%zu sigchld=%d children=%s", (unsigned long long)pass, (unsigned long)mem, pages, (int)sigchlds, who);
    }
  }
}
