// bench_fds REPORT DIR N: opens N more fds, alternating /dev/null (O_WRONLY) and regular files
// DIR/f0..f49 (O_RDONLY, each opened many times, each fd at its own offset), prints "ready" and
// sleeps. On SIGUSR1 checks that every fd is still open with its file and offset and appends
// "fds=ok|BAD n=N" to REPORT. For `npm run bench`.
#include "target.h"
#include <sys/resource.h>
#include <sys/stat.h>

#define NFILES 50
#define FSIZE 4096

int main(int argc, char **argv) {
  const char *dir = argc > 2 ? argv[2] : "/tmp";
  int n = argc > 3 ? atoi(argv[3]) : 1000;
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  struct rlimit rl = {n + 64, n + 64};
  struct rlimit cur;
  if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_cur < rl.rlim_cur) {
    if (cur.rlim_max > rl.rlim_max) rl.rlim_max = cur.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit");
  }
  char path[4096], buf[FSIZE];
  for (int f = 0; f < NFILES; f++) {
    snprintf(path, sizeof path, "%s/f%d", dir, f);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die(path);
    memset(buf, 'a' + f % 26, sizeof buf);
    if (write(fd, buf, sizeof buf) != sizeof buf) die("write");
    close(fd);
  }
  int *fds = calloc(n, sizeof *fds);
  if (!fds) die("calloc");
  for (int i = 0; i < n; i++) {
    if (i % 2) {
      snprintf(path, sizeof path, "%s/f%d", dir, (i / 2) % NFILES);
      fds[i] = open(path, O_RDONLY);
      if (fds[i] >= 0 && lseek(fds[i], i % FSIZE, SEEK_SET) < 0) die("lseek");
    } else {
      fds[i] = open("/dev/null", O_WRONLY);
    }
    if (fds[i] < 0) die("open");
  }
  ready();
  for (;;) {
    if (report_requested) {
      report_requested = 0;
      int ok = 1;
      struct stat st;
      for (int i = 0; i < n && ok; i++) {
        if (fstat(fds[i], &st) < 0) ok = 0;
        else if (i % 2 == 0) ok = S_ISCHR(st.st_mode);
        else {
          char c;
          off_t pos = lseek(fds[i], 0, SEEK_CUR);
          ok = S_ISREG(st.st_mode) && pos == i % FSIZE && pread(fds[i], &c, 1, 0) == 1 && c == 'a' + ((i / 2) % NFILES) % 26;
        }
      }
      say("fds=%s n=%d", okbad(ok), n);
    }
    sleep_ms(1000);
  }
}
