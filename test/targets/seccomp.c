// seccomp LOG: installs an allow-everything seccomp filter (a real filter, mode 2), prints ready,
// then sleeps. cryo must refuse to dump it (restoring it without the filter would drop a
// security boundary) and leave it running.
#include "target.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

int main(int argc, char **argv) {
  open_report(argc, argv);
  struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  struct sock_fprog prog = {.len = 1, .filter = allow};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) die("seccomp");
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
