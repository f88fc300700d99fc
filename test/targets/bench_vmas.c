// bench_vmas REPORT N: maps N separate one-page anonymous regions, writes a pattern into each,
// then makes every other one read-only so that neighbours never merge (N VMAs), prints "ready"
// and sleeps. On SIGUSR1 checks every page and appends "vmas=ok|BAD n=N maps=LINES" to REPORT
// (LINES: the lines of /proc/self/maps). For `npm run bench`.
#include "target.h"
#include <sys/mman.h>

#define PG 4096

static int count_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF)
    if (c == '\n') n++;
  fclose(f);
  return n;
}

int main(int argc, char **argv) {
  int n = argc > 2 ? atoi(argv[2]) : 10000;
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  char **regions = calloc(n, sizeof *regions);
  if (!regions) die("calloc");
  for (int i = 0; i < n; i++) {
    regions[i] = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (regions[i] == MAP_FAILED) die("mmap");
    fill_pattern(regions[i], PG, i + 1);
  }
  for (int i = 1; i < n; i += 2)
    if (mprotect(regions[i], PG, PROT_READ) < 0) die("mprotect");
  ready();
  for (;;) {
    if (report_requested) {
      report_requested = 0;
      int ok = 1;
      for (int i = 0; i < n && ok; i++) ok = check_pattern(regions[i], PG, i + 1);
      say("vmas=%s n=%d maps=%d", okbad(ok), n, count_maps());
    }
    sleep_ms(1000);
  }
}
