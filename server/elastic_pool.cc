#include "server/elastic_pool.h"

#include <algorithm>
#include <utility>

#include "server/thread_name.h"

namespace pong {

ElasticPool::ElasticPool(Options options) : options_(options) {}

ElasticPool::~ElasticPool() { Shutdown(); }

void ElasticPool::Enqueue(std::function<void()> task) {
  JoinEnded();
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(task));
      // Each idle thread takes one task; only tasks beyond those need a new thread.
      if (idle_ < queue_.size() && threads_.size() < options_.max_threads) {
        std::thread thread([this] { Work(); });
        const std::thread::id id = thread.get_id();
        threads_.emplace(id, std::move(thread));
        peak_ = std::max(peak_, threads_.size());
      }
      work_cv_.notify_one();
      return;
    }
  }
  task();
}

void ElasticPool::Shutdown() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    work_cv_.notify_all();
    while (!threads_.empty()) lock.Wait(ended_cv_);
  }
  JoinEnded();
}

ElasticPool::Stats ElasticPool::stats() const {
  MutexLock lock(mu_);
  return Stats{threads_.size(), idle_, queue_.size(), peak_};
}

void ElasticPool::Work() {
  NameThisThread(options_.thread_name);
  MutexLock lock(mu_);
  while (true) {
    if (!queue_.empty()) {
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.Unlock();
      task();
      task = nullptr;  // whatever it holds goes before the lock is taken again
      lock.Lock();
      continue;
    }
    if (stopping_) break;
    ++idle_;
    const auto give_up = std::chrono::steady_clock::now() + options_.idle_timeout;
    while (queue_.empty() && !stopping_ &&
           lock.WaitUntil(work_cv_, give_up) == std::cv_status::no_timeout) {
    }
    const bool woken = !queue_.empty() || stopping_;
    --idle_;
    if (!woken && threads_.size() > options_.keep_threads) break;
  }
  // Hand our own thread object to whoever joins next; it returns right after this.
  auto self = threads_.find(std::this_thread::get_id());
  ended_.push_back(std::move(self->second));
  threads_.erase(self);
  ended_cv_.notify_all();
}

void ElasticPool::JoinEnded() {
  std::vector<std::thread> ended;
  {
    MutexLock lock(mu_);
    ended.swap(ended_);
  }
  for (std::thread& thread : ended) thread.join();
}

}  // namespace pong
