// files LOG DIR: opens, in this order,
//   data    DIR/data.txt O_RDWR, 4096 known bytes, positioned at 1000
//   log     DIR/log.txt O_WRONLY|O_APPEND (each report appends "report N\n" to it)
//   null    /dev/null O_WRONLY;  zero /dev/zero;  urandom /dev/urandom
//   ghost   DIR/ghost.txt O_RDWR with "ghost:PID:hello", positioned at 6, then unlinked
//   cloexec DIR/data.txt O_RDONLY|O_CLOEXEC at 77
//   dup100  dup2(cloexec, 100): same open file, without FD_CLOEXEC
// On SIGUSR1 appends, for each NAME=FD/FLAGS(octal F_GETFL)/CLOEXEC/POS, then
//   ghost_content=.. data_ok=ok zero_ok=ok shared_ok=ok logsize=N
// shared_ok: moving dup100's offset moves cloexec's (one open file description).
#include "target.h"
#include <sys/stat.h>

static const char *names[] = {"data", "log", "null", "zero", "urandom", "ghost", "cloexec", "dup100"};
static int fds[8];

static void path_in(char *buf, const char *dir, const char *name) { snprintf(buf, 4096, "%s/%s", dir, name); }

int main(int argc, char **argv) {
  const char *dir = argc > 2 ? argv[2] : "/tmp";
  char p[4096], data[4096], ghost[64];
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  for (int i = 0; i < 4096; i++) data[i] = 'a' + i % 26;
  path_in(p, dir, "data.txt");
  if ((fds[0] = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0) die(p);
  if (write(fds[0], data, sizeof data) != sizeof data) die("write data");
  lseek(fds[0], 1000, SEEK_SET);
  path_in(p, dir, "log.txt");
  if ((fds[1] = open(p, O_WRONLY | O_APPEND | O_CREAT, 0644)) < 0) die(p);
  if (write(fds[1], "first\n", 6) != 6) die("write log");
  if ((fds[2] = open("/dev/null", O_WRONLY)) < 0) die("/dev/null");
  if ((fds[3] = open("/dev/zero", O_RDONLY)) < 0) die("/dev/zero");
  if ((fds[4] = open("/dev/urandom", O_RDONLY)) < 0) die("/dev/urandom");
  path_in(p, dir, "ghost.txt");
  if ((fds[5] = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0) die(p);
  int glen = snprintf(ghost, sizeof ghost, "ghost:%d:hello", getpid());
  if (write(fds[5], ghost, glen) != glen) die("write ghost");
  lseek(fds[5], 6, SEEK_SET);
  unlink(p);
  path_in(p, dir, "data.txt");
  if ((fds[6] = open(p, O_RDONLY | O_CLOEXEC)) < 0) die(p);
  lseek(fds[6], 77, SEEK_SET);
  if ((fds[7] = dup2(fds[6], 100)) != 100) die("dup2");
  ready();

  unsigned long reports = 0;
  for (;;) {
    sleep_ms(10);
    if (!report_requested) continue;
    report_requested = 0;
    char line[4096] = "", buf[4096];
    for (int i = 0; i < 8; i++) {
      sprintf(line + strlen(line), "%s=%d/%o/%d/%lld ", names[i], fds[i], fcntl(fds[i], F_GETFL),
              (fcntl(fds[i], F_GETFD) & FD_CLOEXEC) != 0, (long long)lseek(fds[i], 0, SEEK_CUR));
    }
    ssize_t g = pread(fds[5], buf, sizeof buf - 1, 0);
    buf[g > 0 ? g : 0] = 0;
    char got[4096];
    int data_ok = pread(fds[0], got, sizeof got, 0) == sizeof got && memcmp(got, data, sizeof got) == 0;
    char z[256];
    memset(z, 1, sizeof z);
    int zero_ok = read(fds[3], z, sizeof z) == sizeof z;
    for (size_t i = 0; i < sizeof z; i++) zero_ok &= z[i] == 0;
    off_t pos = lseek(fds[6], 0, SEEK_CUR);
    lseek(fds[7], pos + 1, SEEK_SET);
    int shared_ok = lseek(fds[6], 0, SEEK_CUR) == pos + 1;
    lseek(fds[7], pos, SEEK_SET);
    int n = snprintf(buf + 2048, 64, "report %lu\n", ++reports);
    if (write(fds[1], buf + 2048, n) != n) die("write log");
    struct stat st;
    fstat(fds[1], &st);
    say("%sghost_content=%s data_ok=%s zero_ok=%s shared_ok=%s logsize=%lld", line, buf, okbad(data_ok),
        okbad(zero_ok), okbad(shared_ok), (long long)st.st_size);
  }
}
