// pages DIR: for the pagemap test. Maps 16 anonymous private pages and writes pages
// 0-2, 5, 8-10 and 15; maps DIR/pages.bin (8 pages) MAP_PRIVATE, reads all of it and writes
// page 3 (one copied-on-write page). Prints "anon=HEX file=HEX" and "ready", then sleeps.
#include "target.h"
#include <sys/mman.h>

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  char *anon = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (anon == MAP_FAILED) die("mmap anon");
  static const int touched[] = {0, 1, 2, 5, 8, 9, 10, 15};
  for (size_t i = 0; i < sizeof touched / sizeof touched[0]; i++) anon[touched[i] * 4096] = 1;
  char p[4096], page[4096];
  snprintf(p, sizeof p, "%s/pages.bin", dir);
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die(p);
  memset(page, 'x', sizeof page);
  for (int i = 0; i < 8; i++)
    if (write(fd, page, sizeof page) != sizeof page) die("write");
  char *file = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (file == MAP_FAILED) die("mmap file");
  volatile char sum = 0;
  for (int i = 0; i < 8; i++) sum += file[i * 4096];
  file[3 * 4096] = 'y';
  printf("anon=%lx file=%lx\n", (unsigned long)anon, (unsigned long)file);
  ready();
  for (;;) pause();
}
