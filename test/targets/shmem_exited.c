// Shared anonymous memory holding pages that no live process has mapped in (zdtm: shm-unmap):
// the parent maps 4 MiB MAP_SHARED|MAP_ANONYMOUS and forks a child that fills every page but the
// first with a pattern and exits (reaped); the parent never touches those pages, so they are in
// the shared memory object but in no process's page tables. On SIGUSR1 the parent reads them
// and appends "pattern=ok|BAD". (A postgres backend that filled shared buffers and exited
// leaves memory like this.)
#include "target.h"
#include <sys/mman.h>
#include <sys/wait.h>

#define SIZE (4 << 20)

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  unsigned char *shm = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shm == MAP_FAILED) die("mmap");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    fill_pattern(shm + 4096, SIZE - 4096, 0xfeed);
    _exit(0);
  }
  if (waitpid(child, NULL, 0) != child) die("waitpid");
  ready();
  for (;;) {
    if (report_requested) {
      report_requested = 0;
      say("pattern=%s", okbad(check_pattern(shm + 4096, SIZE - 4096, 0xfeed)));
    }
    sleep_ms(10);
  }
}
