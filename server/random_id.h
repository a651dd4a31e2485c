#ifndef PONG_SERVER_RANDOM_ID_H_
#define PONG_SERVER_RANDOM_ID_H_

#include <string>

namespace pong {

// 128 bits from the kernel's CSPRNG (getrandom), as 32 lowercase hex digits: the format
// of game ids and of the ids pong-cli gives its commands. Thread-safe.
std::string NewRandomId();

}  // namespace pong

#endif  // PONG_SERVER_RANDOM_ID_H_
