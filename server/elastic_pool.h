#ifndef PONG_SERVER_ELASTIC_POOL_H_
#define PONG_SERVER_ELASTIC_POOL_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "server/mutex.h"

namespace pong {

// Runs tasks on threads made on demand: a task starts at once on an idle thread or on a
// new one, up to max_threads; beyond that it waits in line. A thread that stays idle for
// idle_timeout ends (down to keep_threads), so a burst of connections leaves no big pool
// behind, and an idle thread waits on a condition variable: no polling. Thread-safe.
class ElasticPool {
 public:
  struct Options {
    size_t max_threads = 256;
    size_t keep_threads = 2;
    std::chrono::milliseconds idle_timeout{5000};
    const char* thread_name = "pong-pool";  // what top -H shows (15 characters)
  };
  struct Stats {
    size_t threads = 0;  // alive
    size_t idle = 0;
    size_t queued = 0;  // tasks waiting for a thread
    size_t peak_threads = 0;
  };

  explicit ElasticPool(Options options);
  ~ElasticPool();  // Shutdown()

  ElasticPool(const ElasticPool&) = delete;
  ElasticPool& operator=(const ElasticPool&) = delete;

  // After Shutdown, the task runs on the calling thread.
  void Enqueue(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs what is queued, then joins every thread. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Work() ABSL_LOCKS_EXCLUDED(mu_);
  // Joins the threads that have ended by themselves.
  void JoinEnded() ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  mutable Mutex mu_;
  std::condition_variable work_cv_;   // a task is queued, or shutdown
  std::condition_variable ended_cv_;  // a thread has ended
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  std::map<std::thread::id, std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> ended_ ABSL_GUARDED_BY(mu_);
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;
  size_t peak_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace pong

#endif  // PONG_SERVER_ELASTIC_POOL_H_
