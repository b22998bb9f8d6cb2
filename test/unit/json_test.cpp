// Unit tests of the JSON object builder.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/json.hpp"

using strata::core::JsonObject;

TEST(Json, EmptyObject) { EXPECT_EQ(JsonObject().Text(), "{}"); }

TEST(Json, KeysInOrderWithTheirForms) {
  JsonObject o;
  o.Int("pages", 12).Rounded("live_tuples", 1234.5).General("scale", 0.2).Bool("has_statistics", false);
  o.Null("dead").String("reason", "a \"quoted\"\nline").Raw("buffers", "{\"hit\": 1}");
  EXPECT_EQ(o.Text(),
            "{\"pages\": 12, \"live_tuples\": 1234, \"scale\": 0.2, \"has_statistics\": false, \"dead\": null, "
            "\"reason\": \"a \\\"quoted\\\"\\nline\", \"buffers\": {\"hit\": 1}}");
}

TEST(Json, NumbersAsPrintfFormsThem) {
  EXPECT_EQ(JsonObject().Rounded("x", -1).Text(), "{\"x\": -1}");
  EXPECT_EQ(JsonObject().Rounded("x", 2.5).Text(), "{\"x\": 2}");  // round half to even, as %.0f
  EXPECT_EQ(JsonObject().General("x", 1).Text(), "{\"x\": 1}");
  EXPECT_EQ(JsonObject().General("x", 1e-7).Text(), "{\"x\": 1e-07}");
  EXPECT_EQ(JsonObject().Int("x", INT64_MIN).Text(), "{\"x\": -9223372036854775808}");
}

TEST(Json, NothingIsCutShort) {
  // The facts JSON was once written into a fixed 1 KB buffer: a long value must come out whole.
  const std::string big(5000, 'x');
  const std::string text = JsonObject().String("s", big).Rounded("n", 1e300).Text();
  const std::string head = "{\"s\": \"" + big + "\", \"n\": ";
  ASSERT_EQ(text.size(), head.size() + 301 + 1);  // 1e300 has 301 digits
  EXPECT_EQ(text.substr(0, head.size()), head);
  EXPECT_EQ(text.back(), '}');
}

TEST(Json, NonFiniteNumbersAreNull) {
  EXPECT_EQ(JsonObject().Rounded("a", NAN).General("b", INFINITY).Text(), "{\"a\": null, \"b\": null}");
}
