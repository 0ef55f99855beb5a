#include "runtime/stop_matcher.hpp"

#include <gtest/gtest.h>

namespace llm {
namespace {

std::string feed(StopMatcher& m, const std::vector<std::string>& pieces) {
    std::string out;
    for (const auto& p : pieces) out += m.push(p);
    return out + m.flush();
}

TEST(StopMatcher, CutsBeforeStopStringSplitAcrossPieces) {
    StopMatcher m({"\nUser:"});
    EXPECT_EQ(feed(m, {"Hello", " there\n", "Us", "er", ": more"}), "Hello there");
    EXPECT_TRUE(m.stopped());
    EXPECT_EQ(m.matched(), "\nUser:");
}

TEST(StopMatcher, HoldsBackOnlyWhatCouldStartAStop) {
    StopMatcher m({"END"});
    EXPECT_EQ(m.push("abcE"), "abc");
    EXPECT_EQ(m.push("Nx"), "ENx");  // "EN" followed by x is not a stop
    EXPECT_FALSE(m.stopped());
    EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, FlushReturnsHeldTextWithoutStop) {
    StopMatcher m({"###"});
    EXPECT_EQ(m.push("a ##"), "a ");
    EXPECT_EQ(m.flush(), "##");
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
    StopMatcher m({"bb", "a"});
    EXPECT_EQ(feed(m, {"xxbbya"}), "xx");
    EXPECT_EQ(m.matched(), "bb");
}

TEST(StopMatcher, NoStopsPassesThrough) {
    StopMatcher m({});
    EXPECT_EQ(m.push("anything"), "anything");
    EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, MultibyteStopString) {
    StopMatcher m({"—end"});
    EXPECT_EQ(feed(m, {"value \xE2\x80", "\x94", "end tail"}), "value ");
}

}  // namespace
}  // namespace llm
