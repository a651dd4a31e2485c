#ifndef PONG_TESTS_CORE_TWO_GAMES_H_
#define PONG_TESTS_CORE_TWO_GAMES_H_

#include <functional>
#include <optional>

#include "server/core/clock.h"
#include "server/core/game.h"
#include "tests/core/fake_clock.h"

namespace pong {

// Moves `clock` from deadline to deadline of the two games up to `end`, calling `step` at
// each and once at `end`, as the games' owners' timers would. False if they never settle
// within `max_steps` wake-ups.
inline bool RunDeadlines(FakeClock& clock, Game& first, Game& second, MonoTime end,
                         const std::function<void()>& step, int max_steps) {
  for (int steps = 0; steps < max_steps; ++steps) {
    std::optional<MonoTime> next;
    for (Game* game : {&first, &second}) {
      for (std::optional<MonoTime> d : {game->NextCommandDeadline(), game->NextPingDeadline()}) {
        if (d && (!next || *d < *next)) next = d;
      }
    }
    if (!next || *next > end) {
      clock.AdvanceTo(end);
      step();
      return true;
    }
    clock.AdvanceTo(*next);
    step();
  }
  return false;
}

}  // namespace pong

#endif  // PONG_TESTS_CORE_TWO_GAMES_H_
