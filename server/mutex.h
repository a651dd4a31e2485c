#ifndef PONG_SERVER_MUTEX_H_
#define PONG_SERVER_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace pong {

// std::mutex with the annotations clang's thread-safety analysis needs (-Wthread-safety):
// libstdc++'s std::mutex has none, so ABSL_GUARDED_BY(a std::mutex) checks nothing.
// std:: underneath rather than absl::Mutex/CondVar: abseil 20220623 waits on the realtime
// clock, and a step of the system time must not move a deadline; std::condition_variable
// waits for a steady_clock deadline on the monotonic clock.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds a Mutex for its scope, like std::unique_lock: it may be released and taken again
// (Unlock, Lock), and a condition variable can wait on it.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : lock_(mu.mu_) {}
  ~MutexLock() ABSL_UNLOCK_FUNCTION() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() ABSL_UNLOCK_FUNCTION() { lock_.unlock(); }
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { lock_.lock(); }

  // The waits release the mutex while they block and hold it again when they return, so
  // to the analysis it stays held. Each may wake spuriously: callers loop on their
  // condition, written out in the caller, where the analysis sees what it reads.
  void Wait(std::condition_variable& cv) { cv.wait(lock_); }
  template <typename Clock, typename Duration>
  std::cv_status WaitUntil(std::condition_variable& cv,
                           const std::chrono::time_point<Clock, Duration>& deadline) {
    return cv.wait_until(lock_, deadline);
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace pong

#endif  // PONG_SERVER_MUTEX_H_
