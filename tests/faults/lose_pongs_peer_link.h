#ifndef PONG_TESTS_FAULTS_LOSE_PONGS_PEER_LINK_H_
#define PONG_TESTS_FAULTS_LOSE_PONGS_PEER_LINK_H_

#include <memory>

#include "server/peer_link.h"

namespace pong::testing {

// The environment variable that lists the pongs to lose: comma-separated seqs, each
// occurrence losing one reply of that seq ("3,3,8": the first two pongs of seq 3 and the
// first of seq 8).
inline constexpr char kLosePongsEnv[] = "PONG_FAULT_LOSE_PONGS";

// For pong-server-faults only, a test build of pong-server (never shipped): the real HTTP
// link to the peer, except that the listed pongs are thrown away after they arrived, as
// if the reply had been lost on the way. The peer got the ping and answered; this
// instance sees "pong lost (fault hook)" and retries, as it would after a lost reply.
std::unique_ptr<PeerLink> MakeLosePongsPeerLink(const HostPort& peer);

}  // namespace pong::testing

#endif  // PONG_TESTS_FAULTS_LOSE_PONGS_PEER_LINK_H_
