// posix_timers LOG: three POSIX timers (a first one is created and deleted, so ids start at 1):
//   A  CLOCK_MONOTONIC, every 20 ms, SIGRTMIN to the process (a handler counts ticks)
//   B  CLOCK_REALTIME, one-shot 1000 s from now, SIGRTMIN+1 (must not fire)
//   C  CLOCK_MONOTONIC, every 30 ms, SIGEV_THREAD_ID to the worker thread, SIGRTMIN+2
// plus per-thread state: a parent-death signal in both threads (SIGUSR2 main, SIGWINCH worker)
// and, in the worker, signals pending for it alone (blocked: SIGRTMIN+5 twice, SIGRTMIN+6 with a
// value). On SIGUSR1 appends
//   ids=A,B,C ok=1 ticks=N tticks=M tbad=0 b_left_ms=L b_fired=0 a_interval_ms=20
//   c_interval_ms=30 pdeath=12 wpdeath=28 wpending=HEX
// ok=1: timer_gettime works on every id; tbad counts SIGRTMIN+2 deliveries to a wrong thread.
#include "target.h"
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static volatile sig_atomic_t ticks, tticks, tbad, b_fired;
static volatile pid_t worker_tid;
static volatile int wpdeath;
static volatile uint64_t wpending;

static void on_a(int sig) { (void)sig; ticks++; }
static void on_b(int sig) { (void)sig; b_fired = 1; }
static void on_c(int sig) {
  (void)sig;
  if (gettid() == worker_tid) tticks++;
  else tbad++;
}

static uint64_t mask64(const sigset_t *s) {
  uint64_t m = 0;
  for (int sig = 1; sig <= 64; sig++)
    if (sigismember(s, sig) == 1) m |= 1ULL << (sig - 1);
  return m;
}

static void *worker(void *arg) {
  (void)arg;
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGRTMIN + 5);
  sigaddset(&m, SIGRTMIN + 6);
  pthread_sigmask(SIG_BLOCK, &m, NULL);
  prctl(PR_SET_PDEATHSIG, SIGWINCH);
  worker_tid = gettid();
  for (;;) {
    sigset_t p;
    sigpending(&p);
    wpending = mask64(&p);
    int s = 0;
    prctl(PR_GET_PDEATHSIG, &s);
    wpdeath = s;
    sleep_ms(5);
  }
  return NULL;
}

static void handle(int sig, void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = SA_RESTART;
  if (sigaction(sig, &sa, NULL) < 0) die("sigaction");
}

static timer_t make(clockid_t clock, int notify, int signo, long value, pid_t tid) {
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = notify;
  sev.sigev_signo = signo;
  sev.sigev_value.sival_ptr = (void *)value;
  sev._sigev_un._tid = tid;
  timer_t t;
  if (timer_create(clock, &sev, &t) < 0) die("timer_create");
  return t;
}

static void arm(timer_t t, long value_ms, long interval_ms) {
  struct itimerspec its = {{interval_ms / 1000, (interval_ms % 1000) * 1000000L}, {value_ms / 1000, (value_ms % 1000) * 1000000L}};
  if (timer_settime(t, 0, &its, NULL) < 0) die("timer_settime");
}

int main(int argc, char **argv) {
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  handle(SIGRTMIN, on_a);
  handle(SIGRTMIN + 1, on_b);
  handle(SIGRTMIN + 2, on_c);
  handle(SIGUSR2, on_a); // the parent-death signal arrives when a restoring cryo exits: harmless
  signal(SIGWINCH, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGUSR2);

  pthread_t th;
  if (pthread_create(&th, NULL, worker, NULL) != 0) die("pthread_create");
  while (worker_tid == 0) sleep_ms(1);
  // The main thread never takes SIGRTMIN+2: timer C must go to the worker by itself.
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGRTMIN + 2);
  sigaddset(&m, SIGRTMIN + 5);
  sigaddset(&m, SIGRTMIN + 6);
  pthread_sigmask(SIG_BLOCK, &m, NULL);

  timer_delete(make(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0, 0));
  timer_t a = make(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN, 0x1111, 0);
  timer_t b = make(CLOCK_REALTIME, SIGEV_SIGNAL, SIGRTMIN + 1, 0x2222, 0);
  timer_t c = make(CLOCK_MONOTONIC, SIGEV_THREAD_ID, SIGRTMIN + 2, 0x3333, worker_tid);
  arm(a, 20, 20);
  arm(b, 1000 * 1000, 0);
  arm(c, 30, 30);

  pthread_kill(th, SIGRTMIN + 5);
  pthread_kill(th, SIGRTMIN + 5);
  union sigval v = {.sival_int = 42};
  pthread_sigqueue(th, SIGRTMIN + 6, v);
  while (wpending == 0) sleep_ms(1);
  ready();

  for (;;) {
    sleep_ms(10);
    if (!report_requested) continue;
    report_requested = 0;
    struct itimerspec sa, sb, sc;
    int ok = timer_gettime(a, &sa) == 0 && timer_gettime(b, &sb) == 0 && timer_gettime(c, &sc) == 0;
    int pd = 0;
    prctl(PR_GET_PDEATHSIG, &pd);
    say("ids=%ld,%ld,%ld ok=%d ticks=%d tticks=%d tbad=%d b_left_ms=%ld b_fired=%d a_interval_ms=%ld "
        "c_interval_ms=%ld pdeath=%d wpdeath=%d wpending=%016llx",
        (long)a, (long)b, (long)c, ok, (int)ticks, (int)tticks, (int)tbad,
        sb.it_value.tv_sec * 1000L + sb.it_value.tv_nsec / 1000000L, (int)b_fired,
        sa.it_interval.tv_nsec / 1000000L, sc.it_interval.tv_nsec / 1000000L, pd, wpdeath,
        (unsigned long long)wpending);
  }
}
