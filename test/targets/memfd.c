// memfd LOG: a sealable memfd "cryo-memfd" of 3 pages + 100 bytes (page 1 a hole of zeros, the
// rest a pattern), sealed F_SEAL_SHRINK|F_SEAL_GROW, read-write at offset 5000; a second,
// read-only description of it (reopened through /proc/self/fd) at offset 4100; and a plain memfd
// "plain" (not sealable) holding "hello". On SIGUSR1 appends
//   name=N size=S seals=X pos=P ro_pos=Q ro_mode=M same_inode=1 sum=H plain=hello plain_seals=Y
#include "target.h"
#include <sys/mman.h>
#include <sys/stat.h>

#define SIZE (3 * 4096 + 100)

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  int fd = memfd_create("cryo-memfd", MFD_ALLOW_SEALING);
  if (fd < 0) die("memfd_create");
  static char buf[SIZE];
  fill_pattern(buf, sizeof buf, 0x5eed);
  memset(buf + 4096, 0, 4096);
  if (write(fd, buf, SIZE) != SIZE) die("write");
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) die("F_ADD_SEALS");
  lseek(fd, 5000, SEEK_SET);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int ro = open(path, O_RDONLY);
  if (ro < 0) die("reopen");
  lseek(ro, 4100, SEEK_SET);
  int plain = memfd_create("plain", 0);
  if (plain < 0 || write(plain, "hello", 5) != 5) die("plain");
  ready();
  for (;;) {
    sleep_ms(50);
    if (!report_requested) continue;
    report_requested = 0;
    char link[256] = "";
    if (readlink(path, link, sizeof link - 1) < 0) strcpy(link, "?");
    link[strcspn(link, " ")] = 0;
    struct stat a, b, p;
    fstat(fd, &a);
    fstat(ro, &b);
    fstat(plain, &p);
    static char got[SIZE];
    ssize_t n = pread(ro, got, SIZE, 0);
    char word[8] = "";
    if (pread(plain, word, 5, 0) != 5) strcpy(word, "?");
    say("name=%s size=%lld seals=%d pos=%lld ro_pos=%lld ro_mode=%d same_inode=%d sum=%llx plain=%s plain_seals=%d plain_size=%lld", link,
        (long long)a.st_size, fcntl(fd, F_GET_SEALS), (long long)lseek(fd, 0, SEEK_CUR), (long long)lseek(ro, 0, SEEK_CUR),
        fcntl(ro, F_GETFL) & O_ACCMODE, a.st_ino == b.st_ino, n == SIZE ? (unsigned long long)checksum(got, SIZE) : 0ULL, word,
        fcntl(plain, F_GET_SEALS), (long long)p.st_size);
  }
}
