// mmaps LOG DIR: maps, each 1 MiB unless said,
//   anon   private anonymous rw, 4 MiB, pattern-filled
//   cow    DIR/priv.bin MAP_PRIVATE rw, every 4th page modified (file stays as written)
//   shared DIR/shared.bin MAP_SHARED rw, written through the mapping
//   none   anonymous, filled, then PROT_NONE (made readable only while reporting)
//   ro     anonymous, filled, then PROT_READ
//   brk    256 KiB grown with sbrk, filled
//   wf     with a third argument `wipeonfork`: anonymous, filled, MADV_WIPEONFORK (a fork's copy
//          of it is zeros)
// On SIGUSR1 bumps a counter in the shared mapping, msyncs, and appends
//   anon=ok cow=ok cowfile=ok shared=ok none=ok ro=ok brk=ok wf=ok all=ok gen=N brk_end=HEX
// shared=ok: the file's bytes (pread) equal the mapping's, i.e. it still maps the file.
#include "target.h"
#include <sys/mman.h>

#define MIB (1 << 20)
#define PG 4096

static void *map(size_t len, int prot, int flags, int fd) {
  void *p = mmap(NULL, len, prot, flags, fd, 0);
  if (p == MAP_FAILED) die("mmap");
  return p;
}

static int make_file(const char *dir, const char *name, uint64_t seed) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die(p);
  void *buf = malloc(MIB);
  fill_pattern(buf, MIB, seed);
  if (write(fd, buf, MIB) != MIB) die("write");
  free(buf);
  return fd;
}

static uint64_t file_sum(int fd) {
  void *buf = malloc(MIB);
  uint64_t s = pread(fd, buf, MIB, 0) == MIB ? checksum(buf, MIB) : 0;
  free(buf);
  return s;
}

int main(int argc, char **argv) {
  const char *dir = argc > 2 ? argv[2] : "/tmp";
  open_report(argc, argv);
  install_report_handler(SA_RESTART);

  char *anon = map(4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  fill_pattern(anon, 4 * MIB, 1);

  int cfd = make_file(dir, "priv.bin", 2);
  uint64_t cfile_sum = file_sum(cfd);
  char *cow = map(MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE, cfd);
  for (int off = 0; off < MIB; off += 4 * PG) cow[off + 5] ^= 0x5a;
  uint64_t cow_sum = checksum(cow, MIB);

  int sfd = make_file(dir, "shared.bin", 3);
  char *shared = map(MIB, PROT_READ | PROT_WRITE, MAP_SHARED, sfd);
  fill_pattern(shared, MIB, 4);
  msync(shared, MIB, MS_SYNC);

  char *none = map(MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  fill_pattern(none, MIB, 5);
  mprotect(none, MIB, PROT_NONE);

  char *ro = map(MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  fill_pattern(ro, MIB, 6);
  mprotect(ro, MIB, PROT_READ);

  char *brk = sbrk(256 * 1024);
  if (brk == (void *)-1) die("sbrk");
  fill_pattern(brk, 256 * 1024, 7);

  int wipe = argc > 3 && strcmp(argv[3], "wipeonfork") == 0;
  char *wf = NULL;
  if (wipe) {
    wf = map(MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    fill_pattern(wf, MIB, 8);
    if (madvise(wf, MIB, MADV_WIPEONFORK) < 0) die("madvise");
  }
  ready();

  uint64_t gen = 0;
  for (;;) {
    sleep_ms(10);
    if (!report_requested) continue;
    report_requested = 0;
    int a = check_pattern(anon, 4 * MIB, 1);
    int c = checksum(cow, MIB) == cow_sum;
    int cf = file_sum(cfd) == cfile_sum;
    gen++;
    memcpy(shared, &gen, sizeof gen);
    msync(shared, MIB, MS_SYNC);
    int s = file_sum(sfd) == checksum(shared, MIB);
    const uint64_t *sw = (const uint64_t *)shared;
    for (size_t i = 1; s && i < MIB / 8; i++) s = sw[i] == pattern_word(4, i);
    mprotect(none, MIB, PROT_READ);
    int n = check_pattern(none, MIB, 5);
    mprotect(none, MIB, PROT_NONE);
    int r = check_pattern(ro, MIB, 6);
    int b = check_pattern(brk, 256 * 1024, 7);
    int w = !wipe || check_pattern(wf, MIB, 8);
    say("anon=%s cow=%s cowfile=%s shared=%s none=%s ro=%s brk=%s wf=%s all=%s gen=%llu brk_end=%lx", okbad(a), okbad(c),
        okbad(cf), okbad(s), okbad(n), okbad(r), okbad(b), okbad(w), okbad(a && c && cf && s && n && r && b && w),
        (unsigned long long)gen, (unsigned long)sbrk(0));
  }
}
