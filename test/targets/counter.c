// counter LOG [MIB=64]: counts every 10 ms; every 100 ms (and on SIGUSR1) appends
//   count=N token=HEX mem=ok|BAD mib=M
// token: random, made at start, kept in a heap buffer; mem: a MIB-MiB malloc'ed pattern checked.
#include "target.h"
#include <sys/random.h>

int main(int argc, char **argv) {
  long mib = argc > 2 ? atol(argv[2]) : 64;
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  unsigned char raw[16];
  if (getrandom(raw, sizeof raw, 0) != sizeof raw) die("getrandom");
  char *token = malloc(2 * sizeof raw + 1);
  for (size_t i = 0; i < sizeof raw; i++) sprintf(token + 2 * i, "%02x", raw[i]);
  uint64_t seed;
  memcpy(&seed, raw, 8);
  size_t len = (size_t)mib << 20;
  void *mem = len ? malloc(len) : NULL;
  if (len && !mem) die("malloc");
  if (len) fill_pattern(mem, len, seed);
  ready();
  unsigned long long count = 0;
  for (;;) {
    sleep_ms(10);
    count++;
    if (count % 10 == 0 || report_requested) {
      report_requested = 0;
      say("count=%llu token=%s mem=%s mib=%ld", count, token, okbad(!len || check_pattern(mem, len, seed)), mib);
    }
  }
}
