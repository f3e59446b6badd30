#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/dagctl/graph.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd::dagctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDot[] = "/usr/bin/dot";

v1::TaskStatus* AddTask(v1::ListTasksResponse* response, const std::string& id,
                        const std::string& fn, v1::TaskState state,
                        std::vector<std::string> inputs = {},
                        std::vector<std::string> after = {}) {
  v1::TaskStatus* task = response->add_tasks();
  task->set_task_id(id);
  task->set_fn(fn);
  task->set_state(state);
  for (const std::string& input : inputs) task->add_inputs(input);
  for (const std::string& dep : after) task->add_after(dep);
  return task;
}

// The tiny job of the README, part way through, plus a cleanup step that
// runs after `sum` without taking its output.
v1::ListTasksResponse TinyJob() {
  v1::ListTasksResponse response;
  AddTask(&response, "a", "const", v1::TASK_SUCCEEDED);
  AddTask(&response, "b", "const", v1::TASK_FAILED);
  AddTask(&response, "sum", "add", v1::TASK_UPSTREAM_FAILED, {"a", "b"});
  AddTask(&response, "cleanup", "exec", v1::TASK_CANCELLED, {}, {"sum"});
  return response;
}

TEST(DotQuoteTest, EscapesQuotesBackslashesAndLineBreaks) {
  EXPECT_EQ(DotQuote("plain"), "\"plain\"");
  EXPECT_EQ(DotQuote(""), "\"\"");
  EXPECT_EQ(DotQuote("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(DotQuote(R"(C:\dir\)"), R"("C:\\dir\\")");
  // A trailing backslash must not swallow the closing quote.
  EXPECT_EQ(DotQuote("\\\""), R"("\\\"")");
  EXPECT_EQ(DotQuote("two\nlines\r"), R"("two\nlines\r")");
  EXPECT_EQ(DotQuote("ünïcode -> {x}; [y]"), "\"ünïcode -> {x}; [y]\"");
}

TEST(StateColorTest, EachStateHasItsColour) {
  EXPECT_EQ(StateColor(v1::TASK_PENDING), "lightgrey");
  EXPECT_EQ(StateColor(v1::TASK_READY), "lightyellow");
  EXPECT_EQ(StateColor(v1::TASK_ASSIGNED), "lightblue");
  EXPECT_EQ(StateColor(v1::TASK_RUNNING), "lightblue");
  EXPECT_EQ(StateColor(v1::TASK_SUCCEEDED), "palegreen");
  EXPECT_EQ(StateColor(v1::TASK_FAILED), "salmon");
  EXPECT_EQ(StateColor(v1::TASK_UPSTREAM_FAILED), "orange");
  EXPECT_EQ(StateColor(v1::TASK_CANCELLED), "grey");
  EXPECT_EQ(StateColor(v1::TASK_STATE_UNSPECIFIED), "white");
  EXPECT_EQ(StateColor(static_cast<v1::TaskState>(42)), "white");
}

TEST(FormatDotTest, TheWholeDocument) {
  EXPECT_EQ(
      FormatDot("j1", TinyJob()),
      "digraph \"j1\" {\n"
      "  label=\"job j1: 4 tasks\\nSUCCEEDED 1 (palegreen), FAILED 1 "
      "(salmon), UPSTREAM_FAILED 1 (orange), CANCELLED 1 (grey)\";\n"
      "  labelloc=t;\n"
      "  fontname=\"Helvetica\";\n"
      "  node [shape=box, style=filled, fontname=\"Helvetica\"];\n"
      "  \"a\" [label=\"a\\nconst\", fillcolor=palegreen, "
      "tooltip=\"SUCCEEDED\"];\n"
      "  \"b\" [label=\"b\\nconst\", fillcolor=salmon, tooltip=\"FAILED\"];\n"
      "  \"sum\" [label=\"sum\\nadd\", fillcolor=orange, "
      "tooltip=\"UPSTREAM_FAILED\"];\n"
      "  \"cleanup\" [label=\"cleanup\\nexec\", fillcolor=grey, "
      "tooltip=\"CANCELLED\"];\n"
      "  \"a\" -> \"sum\";\n"
      "  \"b\" -> \"sum\";\n"
      "  \"sum\" -> \"cleanup\" [style=dashed];\n"
      "}\n");
}

TEST(FormatDotTest, InputsAreSolidAndAfterIsDashed) {
  v1::ListTasksResponse response;
  AddTask(&response, "x", "const", v1::TASK_RUNNING);
  AddTask(&response, "y", "const", v1::TASK_READY);
  AddTask(&response, "z", "add", v1::TASK_PENDING, {"x"}, {"y"});
  const std::string dot = FormatDot("j2", response);
  EXPECT_THAT(dot, HasSubstr("  \"x\" -> \"z\";\n"));
  EXPECT_THAT(dot, HasSubstr("  \"y\" -> \"z\" [style=dashed];\n"));
  EXPECT_THAT(dot, Not(HasSubstr("\"y\" -> \"z\";")));
  EXPECT_THAT(dot, HasSubstr("fillcolor=lightblue"));
  EXPECT_THAT(dot, HasSubstr("fillcolor=lightyellow"));
  EXPECT_THAT(dot, HasSubstr("fillcolor=lightgrey"));
}

TEST(FormatDotTest, OddIdsAreEscapedInNodesEdgesAndLabels) {
  v1::ListTasksResponse response;
  AddTask(&response, "say \"hi\"", "const", v1::TASK_SUCCEEDED);
  AddTask(&response, "dir\\", "", v1::TASK_SUCCEEDED, {"say \"hi\""});
  const std::string dot = FormatDot("j\"3", response);
  EXPECT_THAT(dot, HasSubstr("digraph \"j\\\"3\" {\n"));
  EXPECT_THAT(dot, HasSubstr(R"(  "say \"hi\"" [label="say \"hi\"\nconst", )"));
  // Without a fn the label is the id alone.
  EXPECT_THAT(dot, HasSubstr(R"(  "dir\\" [label="dir\\", )"));
  EXPECT_THAT(dot, HasSubstr(R"(  "say \"hi\"" -> "dir\\";)"));
}

TEST(FormatDotTest, AnEmptyJobIsAnEmptyGraph) {
  EXPECT_EQ(FormatDot("j4", v1::ListTasksResponse()),
            "digraph \"j4\" {\n"
            "  label=\"job j4: 0 tasks\";\n"
            "  labelloc=t;\n"
            "  fontname=\"Helvetica\";\n"
            "  node [shape=box, style=filled, fontname=\"Helvetica\"];\n"
            "}\n");
}

// Runs `command`, returning its exit status and what it wrote to stdout and
// stderr.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult RunShell(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    result.output.append(buffer, n);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(FormatDotTest, GraphvizDotRendersTheOutputAsSvg) {
  if (access(kDot, X_OK) != 0) {
    GTEST_SKIP() << kDot << " not found: install Graphviz "
                 << "(apt-get install graphviz) to check that dot accepts "
                    "dagctl graph's output";
  }
  v1::ListTasksResponse response = TinyJob();
  // Every character DotQuote escapes, in ids, a fn and the job id.
  AddTask(&response, "q\"uo\\te\nnew\rline", "f\"n\\", v1::TASK_RUNNING,
          {"sum"}, {"a"});
  AddTask(&response, "ünï -> {x}; [y]", "const", v1::TASK_READY, {},
          {"q\"uo\\te\nnew\rline"});
  AddTask(&response, "trailing\\", "const", v1::TASK_PENDING,
          {"ünï -> {x}; [y]"});
  const std::string path = ::testing::TempDir() + "/dagctl_graph_test.dot";
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << FormatDot("j\"5\\", response);
    ASSERT_TRUE(file.good()) << "cannot write " << path;
  }
  const CommandResult result =
      RunShell(absl::StrCat(kDot, " -Tsvg '", path, "'"));
  unlink(path.c_str());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("<svg"));
  EXPECT_THAT(result.output, Not(HasSubstr("Warning"))) << result.output;
  EXPECT_THAT(result.output, Not(HasSubstr("Error"))) << result.output;
  // Labels show the ids as written: one backslash, a real quote.
  EXPECT_THAT(result.output, HasSubstr(">trailing\\</text>"));
  EXPECT_THAT(result.output, HasSubstr(">q&quot;uo\\te</text>"));
  // Every node and edge made it.
  size_t nodes = 0, edges = 0;
  for (size_t at = 0;
       (at = result.output.find("class=\"node\"", at)) != std::string::npos;
       ++at) {
    ++nodes;
  }
  for (size_t at = 0;
       (at = result.output.find("class=\"edge\"", at)) != std::string::npos;
       ++at) {
    ++edges;
  }
  EXPECT_EQ(nodes, 7);
  EXPECT_EQ(edges, 7);
}

}  // namespace
}  // namespace dagd::dagctl
