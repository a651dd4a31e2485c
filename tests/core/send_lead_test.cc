#include "server/core/send_lead.h"

#include <chrono>

#include "gtest/gtest.h"

namespace pong {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(SendLeadEstimatorTest, NoLeadBeforeAnyObservation) {
  EXPECT_EQ(SendLeadEstimator().Lead(), microseconds(0));
}

TEST(SendLeadEstimatorTest, OneObservationIsTheLead) {
  SendLeadEstimator lead;
  lead.Observe(microseconds(80));
  EXPECT_EQ(lead.Lead(), microseconds(80));
}

TEST(SendLeadEstimatorTest, TheLeadIsTheMedianOfWhatWasSeen) {
  SendLeadEstimator lead;
  for (int us : {90, 70, 300, 80, 75}) lead.Observe(microseconds(us));
  EXPECT_EQ(lead.Lead(), microseconds(80));
}

TEST(SendLeadEstimatorTest, AFewWakeUpsLateByMillisecondsDoNotMoveIt) {
  SendLeadEstimator lead;
  for (int i = 0; i < 10; ++i) lead.Observe(microseconds(80 + i));
  for (int i = 0; i < 5; ++i) lead.Observe(milliseconds(12));
  EXPECT_EQ(lead.Lead(), microseconds(87));  // the median of 80..89 and five outliers
}

TEST(SendLeadEstimatorTest, OnlyTheLastWindowCounts) {
  SendLeadEstimator lead;
  for (size_t i = 0; i < SendLeadEstimator::kWindow; ++i) lead.Observe(microseconds(200));
  for (size_t i = 0; i < SendLeadEstimator::kWindow / 2; ++i) lead.Observe(microseconds(60));
  EXPECT_EQ(lead.Lead(), microseconds(200));  // still a majority of the window
  lead.Observe(microseconds(60));
  EXPECT_EQ(lead.Lead(), microseconds(60));  // now the majority is the newer delay
  for (size_t i = 0; i < SendLeadEstimator::kWindow; ++i) lead.Observe(microseconds(60));
  EXPECT_EQ(lead.Lead(), microseconds(60));
}

TEST(SendLeadEstimatorTest, NeverMoreThanTheCap) {
  SendLeadEstimator lead;
  for (int i = 0; i < 3; ++i) lead.Observe(milliseconds(40));
  EXPECT_EQ(lead.Lead(), SendLeadEstimator::kMaxLead);
}

TEST(SendLeadEstimatorTest, AnEarlyWakeUpCountsAsNoDelay) {
  SendLeadEstimator lead;
  lead.Observe(microseconds(-30));
  EXPECT_EQ(lead.Lead(), microseconds(0));
}

}  // namespace
}  // namespace pong
