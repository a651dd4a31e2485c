#include "server/elastic_pool.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <future>
#include <string>
#include <vector>

#include "tests/support/wait.h"

namespace pong {
namespace {

using ::pong::testing::Scaled;
using ::pong::testing::WaitUntil;

// Tasks that block until released, as slow connections do.
class Gate {
 public:
  std::function<void()> Task() {
    return [this] {
      ++running_;
      open_.wait();
      --running_;
      ++done_;
    };
  }
  void Open() { promise_.set_value(); }
  int running() const { return running_; }
  int done() const { return done_; }

 private:
  std::promise<void> promise_;
  std::shared_future<void> open_ = promise_.get_future().share();
  std::atomic<int> running_{0};
  std::atomic<int> done_{0};
};

TEST(ElasticPoolTest, StartsNoThreadUntilATaskComes) {
  ElasticPool pool({.max_threads = 8, .keep_threads = 2, .idle_timeout = std::chrono::seconds(5)});
  EXPECT_EQ(pool.stats().threads, 0u);
}

TEST(ElasticPoolTest, ItsThreadsCarryTheGivenName) {
  ElasticPool pool({.max_threads = 2, .thread_name = "pong-test-pool"});
  std::promise<std::string> name;
  pool.Enqueue([&] {
    char buffer[16] = {};
    pthread_getname_np(pthread_self(), buffer, sizeof(buffer));
    name.set_value(buffer);
  });
  EXPECT_EQ(name.get_future().get(), "pong-test-pool");
}

TEST(ElasticPoolTest, EachBlockedTaskGetsAThreadOfItsOwnUpToTheCap) {
  ElasticPool pool({.max_threads = 20, .keep_threads = 2, .idle_timeout = std::chrono::seconds(5)});
  Gate gate;
  for (int i = 0; i < 15; ++i) pool.Enqueue(gate.Task());
  // All 15 run at once: none waits behind another (a fixed pool of 8 would run 8).
  EXPECT_TRUE(WaitUntil([&] { return gate.running() == 15; }, absl::Seconds(5)));
  EXPECT_EQ(pool.stats().threads, 15u);
  EXPECT_EQ(pool.stats().queued, 0u);

  for (int i = 0; i < 10; ++i) pool.Enqueue(gate.Task());
  EXPECT_TRUE(WaitUntil([&] { return gate.running() == 20; }, absl::Seconds(5)));
  EXPECT_EQ(pool.stats().threads, 20u) << "never more than max_threads";
  EXPECT_EQ(pool.stats().queued, 5u);
  gate.Open();
  EXPECT_TRUE(WaitUntil([&] { return gate.done() == 25; }, absl::Seconds(5)))
      << "the queued ones run once threads are free";
  EXPECT_EQ(pool.stats().peak_threads, 20u);
}

TEST(ElasticPoolTest, AnIdleThreadTakesTheNextTaskInsteadOfANewOne) {
  ElasticPool pool({.max_threads = 8, .keep_threads = 2, .idle_timeout = std::chrono::seconds(5)});
  for (int i = 0; i < 50; ++i) {
    std::promise<void> ran;
    pool.Enqueue([&] { ran.set_value(); });
    ran.get_future().wait();
    ASSERT_TRUE(
        WaitUntil([&] { return pool.stats().idle == pool.stats().threads; }, absl::Seconds(5)));
  }
  EXPECT_EQ(pool.stats().peak_threads, 1u);
}

TEST(ElasticPoolTest, IdleThreadsEndDownToTheOnesKept) {
  ElasticPool pool(
      {.max_threads = 16, .keep_threads = 2, .idle_timeout = std::chrono::milliseconds(50)});
  Gate gate;
  for (int i = 0; i < 10; ++i) pool.Enqueue(gate.Task());
  ASSERT_TRUE(WaitUntil([&] { return gate.running() == 10; }, absl::Seconds(5)));
  gate.Open();
  EXPECT_TRUE(WaitUntil([&] { return pool.stats().threads == 2; }, absl::Seconds(5)))
      << pool.stats().threads << " threads left";
  // The kept ones still serve.
  std::promise<void> ran;
  pool.Enqueue([&] { ran.set_value(); });
  EXPECT_EQ(ran.get_future().wait_for(Scaled(std::chrono::seconds(5))), std::future_status::ready);
}

TEST(ElasticPoolTest, ShutdownRunsWhatIsQueuedAndJoins) {
  std::atomic<int> done{0};
  {
    ElasticPool pool(
        {.max_threads = 1, .keep_threads = 1, .idle_timeout = std::chrono::seconds(5)});
    Gate gate;
    pool.Enqueue(gate.Task());
    for (int i = 0; i < 5; ++i) pool.Enqueue([&] { ++done; });
    ASSERT_TRUE(WaitUntil([&] { return gate.running() == 1; }, absl::Seconds(5)));
    EXPECT_EQ(pool.stats().queued, 5u);
    gate.Open();
    pool.Shutdown();
    EXPECT_EQ(done, 5) << "queued tasks close their sockets: all must run";
    EXPECT_EQ(pool.stats().threads, 0u);
    pool.Enqueue([&] { ++done; });  // after shutdown: on the caller's thread
    EXPECT_EQ(done, 6);
  }
}

}  // namespace
}  // namespace pong
