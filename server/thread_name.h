#ifndef PONG_SERVER_THREAD_NAME_H_
#define PONG_SERVER_THREAD_NAME_H_

#include <pthread.h>

namespace pong {

// Names the calling thread as `top -H`, `ps -L`, perf and gdb show it (15 characters at
// most; a longer name is cut). gRPC names its own threads; these are pong's.
inline void NameThisThread(const char* name) {
  char cut[16] = {};
  for (int i = 0; i < 15 && name[i] != '\0'; ++i) cut[i] = name[i];
  pthread_setname_np(pthread_self(), cut);
}

}  // namespace pong

#endif  // PONG_SERVER_THREAD_NAME_H_
