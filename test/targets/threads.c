// threads LOG [N=4]: N pthreads wait on a mutex+condvar; the main thread wakes them every 10 ms.
// On SIGUSR1 appends
//   threads=N gen=G main=TID tids=T1,T2,.. counts=C1,C2,..
// (each worker's gettid() and how many wake-ups it has seen; all must keep advancing).
#include "target.h"
#include <pthread.h>

#define MAXT 64
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned long gen;
static unsigned long counts[MAXT];
static pid_t tids[MAXT];

static void *worker(void *arg) {
  int i = (int)(intptr_t)arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&mu);
  tids[i] = gettid();
  pthread_cond_broadcast(&cv);
  for (;;) {
    while (gen == seen) pthread_cond_wait(&cv, &mu);
    seen = gen;
    counts[i]++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  int n = argc > 2 ? atoi(argv[2]) : 4;
  if (n < 1 || n > MAXT) n = 4;
  open_report(argc, argv);
  install_report_handler(SA_RESTART);
  for (int i = 0; i < n; i++) {
    pthread_t th;
    if (pthread_create(&th, NULL, worker, (void *)(intptr_t)i) != 0) die("pthread_create");
  }
  pthread_mutex_lock(&mu);
  for (int i = 0; i < n; i++)
    while (tids[i] == 0) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  ready();
  for (;;) {
    sleep_ms(10);
    pthread_mutex_lock(&mu);
    gen++;
    pthread_cond_broadcast(&cv);
    unsigned long g = gen, c[MAXT];
    memcpy(c, counts, sizeof c);
    pthread_mutex_unlock(&mu);
    if (report_requested) {
      report_requested = 0;
      char t[MAXT * 12] = "", k[MAXT * 24] = "";
      for (int i = 0; i < n; i++) {
        sprintf(t + strlen(t), "%s%d", i ? "," : "", tids[i]);
        sprintf(k + strlen(k), "%s%lu", i ? "," : "", c[i]);
      }
      say("threads=%d gen=%lu main=%d tids=%s counts=%s", n, g, gettid(), t, k);
    }
  }
}
