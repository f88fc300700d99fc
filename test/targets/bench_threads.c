// bench_threads REPORT N: starts N threads that each tick a counter every 20 ms, prints "ready"
// and sleeps. On SIGUSR1 waits 300 ms and appends "threads=ok|BAD n=N tasks=T" to REPORT: ok
// when every thread's counter advanced and /proc/self/task has N+1 entries. For `npm run bench`.
#include "target.h"
#include <dirent.h>
#include <pthread.h>

static volatile unsigned long *ticks;

static void *worker(void *arg) {
  volatile unsigned long *t = &ticks[(intptr_t)arg];
  for (;;) {
    (*t)++;
    sleep_ms(20);
  }
  return NULL;
}

static int count_tasks(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  int n = argc > 2 ? atoi(argv[2]) : 100;
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  ticks = calloc(n, sizeof *ticks);
  unsigned long *before = calloc(n, sizeof *before);
  if (!ticks || !before) die("calloc");
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 << 10);
  for (int i = 0; i < n; i++) {
    pthread_t t;
    if (pthread_create(&t, &attr, worker, (void *)(intptr_t)i)) die("pthread_create");
  }
  while (count_tasks() != n + 1) sleep_ms(5);
  ready();
  for (;;) {
    if (report_requested) {
      report_requested = 0;
      for (int i = 0; i < n; i++) before[i] = ticks[i];
      sleep_ms(300);
      int ok = 1;
      for (int i = 0; i < n; i++)
        if (ticks[i] == before[i]) ok = 0;
      int tasks = count_tasks();
      say("threads=%s n=%d tasks=%d", okbad(ok && tasks == n + 1), n, tasks);
    }
    sleep_ms(1000);
  }
}
