// bench_mem REPORT MIB: mallocs MIB MiB and fills every page with a pattern (dirty anonymous
// memory, no zero pages), prints "ready", then sleeps. On SIGUSR1 checks the whole pattern and
// appends "mem=ok|BAD mib=MIB" to REPORT. For `npm run bench`.
#include "target.h"

int main(int argc, char **argv) {
  size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
  size_t len = mib << 20;
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  void *mem = malloc(len);
  if (!mem) die("malloc");
  fill_pattern(mem, len, 0xC0FFEE);
  ready();
  for (;;) {
    if (report_requested) {
      report_requested = 0;
      say("mem=%s mib=%zu", okbad(check_pattern(mem, len, 0xC0FFEE)), mib);
    }
    sleep_ms(1000);
  }
}
