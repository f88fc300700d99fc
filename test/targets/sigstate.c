// sigstate LOG [DIR=/tmp]: sets up per-process signal and misc state, then on SIGUSR1 appends
//   usr1=H/FLAGS/MASK usr2=.. alrm=.. pipe=.. blocked=HEX pending=HEX altstack=SP/SIZE/FLAGS
//   itimer=INTERVAL_US/ARMED alarms=N usr2s=N umask=OOOO nofile=SOFT/HARD cwd=PATH comm=NAME
//   personality=HEX
// H is the handler address in hex, or dfl/ign; FLAGS and MASK (first 64 signals) in hex.
// Everything but alarms/usr2s must read the same before and after a checkpoint/restore.
#include "target.h"
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>

static volatile sig_atomic_t alarms, usr2s;
static void on_alrm(int sig) { (void)sig; alarms++; }
static void on_usr2(int sig, siginfo_t *si, void *uc) { (void)sig; (void)si; (void)uc; usr2s++; }

static uint64_t mask64(const sigset_t *s) {
  uint64_t m = 0;
  for (int sig = 1; sig <= 64; sig++)
    if (sigismember(s, sig) == 1) m |= 1ULL << (sig - 1);
  return m;
}

static char *act(int sig, char *buf) {
  struct sigaction sa;
  if (sigaction(sig, NULL, &sa) < 0) die("sigaction");
  char h[32];
  if (sa.sa_handler == SIG_DFL) strcpy(h, "dfl");
  else if (sa.sa_handler == SIG_IGN) strcpy(h, "ign");
  else sprintf(h, "%lx", (unsigned long)sa.sa_handler);
  sprintf(buf, "%s/%lx/%016llx", h, (unsigned long)sa.sa_flags, (unsigned long long)mask64(&sa.sa_mask));
  return buf;
}

int main(int argc, char **argv) {
  const char *dir = argc > 2 ? argv[2] : "/tmp";
  open_report(argc, argv);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_report;
  sa.sa_flags = SA_RESTART | SA_ONSTACK;
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGRTMIN + 1);
  if (sigaction(SIGUSR1, &sa, NULL) < 0) die("sigaction usr1");
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr2;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaddset(&sa.sa_mask, SIGQUIT);
  if (sigaction(SIGUSR2, &sa, NULL) < 0) die("sigaction usr2");
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alrm;
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGALRM, &sa, NULL) < 0) die("sigaction alrm");
  signal(SIGPIPE, SIG_IGN);

  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGHUP);
  sigaddset(&block, SIGRTMIN + 3);
  sigprocmask(SIG_BLOCK, &block, NULL);
  raise(SIGHUP); // stays pending

  stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) < 0) die("sigaltstack");
  struct itimerval it = {{0, 50000}, {0, 50000}};
  if (setitimer(ITIMER_REAL, &it, NULL) < 0) die("setitimer");
  umask(0027);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = 512;
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit");
  if (chdir(dir) < 0) die(dir);
  prctl(PR_SET_NAME, "cryo-sigstate");
  ready();

  for (;;) {
    sleep_ms(10);
    if (!report_requested) continue;
    report_requested = 0;
    char a1[80], a2[80], a3[80], a4[80], cwd[4096], comm[17] = "";
    sigset_t cur, pend;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    sigpending(&pend);
    stack_t os;
    sigaltstack(NULL, &os);
    struct itimerval cit;
    getitimer(ITIMER_REAL, &cit);
    mode_t um = umask(0);
    umask(um);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "?");
    prctl(PR_GET_NAME, comm);
    say("usr1=%s usr2=%s alrm=%s pipe=%s blocked=%016llx pending=%016llx altstack=%lx/%zu/%d "
        "itimer=%ld/%d alarms=%d usr2s=%d umask=%04o nofile=%llu/%llu cwd=%s comm=%s personality=%x",
        act(SIGUSR1, a1), act(SIGUSR2, a2), act(SIGALRM, a3), act(SIGPIPE, a4),
        (unsigned long long)mask64(&cur), (unsigned long long)mask64(&pend),
        (unsigned long)os.ss_sp, os.ss_size, os.ss_flags,
        cit.it_interval.tv_sec * 1000000L + cit.it_interval.tv_usec,
        cit.it_value.tv_sec > 0 || cit.it_value.tv_usec > 0, (int)alarms, (int)usr2s, um,
        (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, cwd, comm,
        personality(0xffffffff));
  }
}
