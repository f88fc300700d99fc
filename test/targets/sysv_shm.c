// sysv_shm LOG MODE [KEY]: creates a System V shared memory segment of 3 pages + 102 bytes (mode
// 0640, key KEY in hex or IPC_PRIVATE), attaches it twice — read-write and read-only — and fills
// it with a pattern. MODE "rmid" marks it for removal (IPC_RMID) while attached; "keep" doesn't.
// On SIGUSR1 bumps a generation word through the read-write attachment and appends
//   shmid=ID size=N pattern=ok|BAD shared=ok|BAD rw=HEX ro=HEX
// shared=ok: the read-only attachment sees the new generation (both map one segment).
#include "target.h"
#include <sys/ipc.h>
#include <sys/shm.h>

#define SIZE (3 * 4096 + 102)
#define GEN_OFF (SIZE - 8)

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  int rmid = argc > 2 && strcmp(argv[2], "rmid") == 0;
  key_t key = argc > 3 ? (key_t)strtoul(argv[3], NULL, 16) : IPC_PRIVATE;
  int id = shmget(key, SIZE, IPC_CREAT | IPC_EXCL | 0640);
  if (id < 0) die("shmget");
  unsigned char *rw = shmat(id, NULL, 0);
  const unsigned char *ro = shmat(id, NULL, SHM_RDONLY);
  if (rw == (void *)-1 || ro == (void *)-1) die("shmat");
  fill_pattern(rw, GEN_OFF, 0x5eed);
  uint64_t gen = 1;
  memcpy(rw + GEN_OFF, &gen, 8);
  if (rmid && shmctl(id, IPC_RMID, NULL) < 0) die("IPC_RMID");
  ready();
  for (;;) {
    sleep_ms(10);
    if (!report_requested) continue;
    report_requested = 0;
    gen++;
    memcpy(rw + GEN_OFF, &gen, 8);
    uint64_t seen;
    memcpy(&seen, ro + GEN_OFF, 8);
    say("shmid=%d size=%d pattern=%s shared=%s rw=%lx ro=%lx", id, SIZE,
        okbad(check_pattern(rw, GEN_OFF, 0x5eed) && check_pattern(ro, GEN_OFF, 0x5eed)), okbad(seen == gen),
        (unsigned long)rw, (unsigned long)ro);
  }
}
