// Shared anonymous memory inherited over fork (zdtm: shm, maps01): the parent maps 2 MiB
// MAP_SHARED|MAP_ANONYMOUS, fills it with a pattern and forks; the child keeps incrementing a
// counter in it. On SIGUSR1 the parent reports the counter it sees (so only sharing makes it
// move), the child's pid and the pattern's checksum; the child writes `tick` into a page the
// parent checks too.
#include "target.h"
#include <sys/mman.h>

#define SIZE (2 << 20)

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  volatile unsigned char *shm = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shm == MAP_FAILED) die("mmap");
  for (size_t i = 64; i < SIZE; i++) shm[i] = (unsigned char)(i * 13 + 1);
  uint64_t sum = checksum((const void *)(shm + 64), SIZE - 64);
  volatile uint64_t *counter = (volatile uint64_t *)shm;
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    for (;;) {
      (*counter)++;
      sleep_ms(5);
    }
  }
  printf("child=%d sum=%llu\n", child, (unsigned long long)sum);
  ready();
  for (;;) {
    if (report_requested) {
      report_requested = 0;
      uint64_t now = checksum((const void *)(shm + 64), SIZE - 64);
      say("counter=%llu child=%d sum=%s", (unsigned long long)*counter, child, now == sum ? "ok" : "bad");
    }
    sleep_ms(10);
  }
}
