#ifndef PONG_TESTS_SUPPORT_SEED_H_
#define PONG_TESTS_SUPPORT_SEED_H_

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"

namespace pong::testing {

// The seed of a randomised test: $PONG_TEST_SEED when set (to replay a failure), else a
// fresh one. Printed and kept as the test's "seed" property (ctest's log, the XML report),
// so that every run says how to repeat it. Called once by the test, on its own thread.
inline uint32_t TestSeed() {
  uint32_t seed = 0;
  const char* text = std::getenv("PONG_TEST_SEED");
  if (text != nullptr && !absl::SimpleAtoi(text, &seed)) {
    ADD_FAILURE() << "PONG_TEST_SEED=" << text << " is not a number from 0 to 4294967295";
  }
  if (text == nullptr) seed = std::random_device{}();
  std::cout << "[   SEED   ] PONG_TEST_SEED=" << seed << (text ? " (from the environment)" : "")
            << "\n";
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

}  // namespace pong::testing

#endif  // PONG_TESTS_SUPPORT_SEED_H_
