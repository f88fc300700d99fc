// locks LOG DIR: holds flock(LOCK_EX) on DIR/flock.lck and, on DIR/posix.lck, a POSIX write lock
// on bytes [10, 29] and a read lock from byte 100 to EOF. SIGUSR1 reports "locked=1";
// SIGUSR2 releases every lock and reports "unlocked=1".
// `locks probe FILE flock` / `locks probe FILE posix START LEN`: exits 0 if that lock (exclusive)
// can be taken now, 1 if another process holds a conflicting one.
#include "target.h"
#include <sys/file.h>

static volatile sig_atomic_t unlock_requested;
static void on_usr2(int sig) {
  (void)sig;
  unlock_requested = 1;
}

static int probe(int argc, char **argv) {
  int fd = open(argv[2], O_RDWR);
  if (fd < 0) die(argv[2]);
  if (strcmp(argv[3], "flock") == 0) return flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1;
  if (argc < 6) die("usage");
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = atoll(argv[4]), .l_len = atoll(argv[5])};
  return fcntl(fd, F_SETLK, &fl) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "probe") == 0) return probe(argc, argv);
  if (argc < 3) die("usage: locks LOG DIR");
  open_report(argc, argv);
  install_report_handler(0);
  signal(SIGUSR2, on_usr2);
  char path[4096];
  snprintf(path, sizeof path, "%s/flock.lck", argv[2]);
  int a = open(path, O_CREAT | O_RDWR, 0644);
  snprintf(path, sizeof path, "%s/posix.lck", argv[2]);
  int b = open(path, O_CREAT | O_RDWR, 0644);
  if (a < 0 || b < 0) die("open");
  if (flock(a, LOCK_EX | LOCK_NB) < 0) die("flock");
  struct flock w = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 20};
  struct flock r = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 0};
  if (fcntl(b, F_SETLK, &w) < 0 || fcntl(b, F_SETLK, &r) < 0) die("fcntl F_SETLK");
  ready();
  for (;;) {
    sleep_ms(50);
    if (unlock_requested) {
      unlock_requested = 0;
      struct flock u = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
      int ok = flock(a, LOCK_UN) == 0 && fcntl(b, F_SETLK, &u) == 0;
      say("unlocked=%d", ok);
    }
    if (report_requested) {
      report_requested = 0;
      say("locked=1");
    }
  }
}
