// Mappings of deleted files (zdtm: unlink_mmap00/01/02), as a POSIX semaphore or an shm_open()
// object unlinked after mmap leaves them. unlink_mmap LOG DIR [SHARED_BYTES [nofd] | memfd]:
//   DIR/shared.bin  SHARED_BYTES (default 16 KiB) of pattern, mapped MAP_SHARED and kept open
//                   (fd; closed with `nofd`), then unlinked; a forked child keeps incrementing a
//                   counter in its first word
//                   (`memfd`: a memfd "shared" instead of a file, mapped and kept open)
//   DIR/private.bin 8 KiB of pattern, mapped MAP_PRIVATE, its first page written (copied on
//                   write), the fd closed, then unlinked
// On SIGUSR1 the parent reports: counter (only the child increments it, so it moves only if the
// mapping is still shared), child, sum=ok (the pattern after the first page of shared.bin),
// fd_map=ok (a word pwrite()n through the fd is read back through the mapping: one file; `none`
// without the fd),
// private=ok (the written page kept, the other as the file had it).
#include "target.h"
#include <sys/mman.h>
#include <sys/stat.h>

#define PRIVATE_BYTES 8192

static void fill(int fd, size_t len, uint64_t seed) {
  char *buf = malloc(len);
  if (!buf) die("malloc");
  fill_pattern(buf, len, seed);
  if (pwrite(fd, buf, len, 0) != (ssize_t)len) die("pwrite");
  free(buf);
}

int main(int argc, char **argv) {
  const char *dir = argc > 2 ? argv[2] : "/tmp";
  int memfd = argc > 3 && strcmp(argv[3], "memfd") == 0;
  size_t size = argc > 3 && !memfd ? strtoul(argv[3], NULL, 0) : 16384;
  char path[4096];
  open_report(argc, argv);
  install_report_handler(SA_RESTART);

  snprintf(path, sizeof path, "%s/shared.bin", dir);
  int sfd = memfd ? memfd_create("shared", 0) : open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (sfd < 0) die(path);
  fill(sfd, size, 7);
  volatile uint64_t *shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
  if (shared == MAP_FAILED) die("mmap shared");
  if (!memfd && unlink(path) < 0) die("unlink shared");
  int keep_fd = !(argc > 4 && strcmp(argv[4], "nofd") == 0);
  if (!keep_fd) close(sfd);
  shared[0] = 0;
  shared[1] = 0;

  snprintf(path, sizeof path, "%s/private.bin", dir);
  int pfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (pfd < 0) die(path);
  fill(pfd, PRIVATE_BYTES, 11);
  uint64_t *private = mmap(NULL, PRIVATE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE, pfd, 0);
  if (private == MAP_FAILED) die("mmap private");
  close(pfd);
  if (unlink(path) < 0) die("unlink private");
  fill_pattern(private, 4096, 13);

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    for (;;) {
      shared[0]++;
      sleep_ms(5);
    }
  }
  printf("child=%d fd=%d\n", child, sfd);
  ready();
  uint64_t token = 0;
  for (;;) {
    if (report_requested) {
      report_requested = 0;
      token++;
      const char *fd_map = !keep_fd ? "none" : okbad(pwrite(sfd, &token, sizeof token, 8) == sizeof token && shared[1] == token);
      // The pattern words from the second page on, as fill() wrote them (word i of the file).
      int sum = 1;
      for (size_t i = 512; i < size / 8; i++)
        if (shared[i] != pattern_word(7, i)) sum = 0;
      int priv = check_pattern(private, 4096, 13);
      for (size_t i = 512; i < PRIVATE_BYTES / 8; i++)
        if (private[i] != pattern_word(11, i)) priv = 0;
      say("counter=%llu child=%d sum=%s fd_map=%s private=%s", (unsigned long long)shared[0], child, okbad(sum), fd_map, okbad(priv));
    }
    sleep_ms(10);
  }
}
