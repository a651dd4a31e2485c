#ifndef PONG_TESTS_FUZZ_FUZZ_CHECK_H_
#define PONG_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

// Aborts with the broken invariant, so libFuzzer records the input.
#define PONG_FUZZ_CHECK(cond)                                                           \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)

#endif  // PONG_TESTS_FUZZ_FUZZ_CHECK_H_
