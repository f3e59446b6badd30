#include "absl/status/status.h"
#include "client/dagctl/args.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd::dagctl {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Invocation> Parse(std::vector<std::string> args,
                                 absl::string_view env_server = "") {
  return ParseArgs(args, env_server);
}

TEST(ParseArgsTest, FlagsMayFollowTheCommandAndItsArguments) {
  absl::StatusOr<Invocation> inv =
      Parse({"submit", "job.json", "--wait", "--request_id", "r1"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "submit");
  EXPECT_THAT(inv->args, ElementsAre("job.json"));
  EXPECT_TRUE(inv->options.wait);
  EXPECT_EQ(inv->options.request_id, "r1");
}

TEST(ParseArgsTest, GlobalFlagsBeforeTheCommand) {
  absl::StatusOr<Invocation> inv =
      Parse({"--server=h:1", "-o", "json", "--timeout=5s", "status", "j1"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->options.server, "h:1");
  EXPECT_TRUE(inv->options.json);
  EXPECT_EQ(inv->options.timeout, absl::Seconds(5));
  EXPECT_THAT(inv->args, ElementsAre("j1"));
}

TEST(ParseArgsTest, ServerComesFromFlagThenEnvThenDefault) {
  EXPECT_EQ(Parse({"jobs"})->options.server, "127.0.0.1:7700");
  EXPECT_EQ(Parse({"jobs"}, "env:1")->options.server, "env:1");
  EXPECT_EQ(Parse({"jobs", "--server", "flag:1"}, "env:1")->options.server,
            "flag:1");
}

// A port past 65535, which gRPC takes modulo 65536 (another dagd's,
// maybe), is refused, from the flag or the environment.
TEST(ParseArgsTest, AServerPortPast65535IsRefused) {
  for (const auto& [args, env] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--server=127.0.0.1:99999", "jobs"}, ""},
           {{"jobs"}, "127.0.0.1:65536"},
           {{"--server=dagd:0", "jobs"}, ""}}) {
    absl::StatusOr<Invocation> parsed = ParseArgs(args, env);
    ASSERT_FALSE(parsed.ok()) << env;
    EXPECT_THAT(parsed.status().message(),
                HasSubstr("the port must be 1 to 65535"));
  }
  EXPECT_TRUE(ParseArgs({"--server=dagd.example:7700", "jobs"}, "").ok());
  EXPECT_TRUE(ParseArgs({"--server=unix:/run/dagd.sock", "jobs"}, "").ok());
}

TEST(ParseArgsTest, DashIsAPositionalAndDoubleDashEndsFlags) {
  EXPECT_THAT(Parse({"submit", "-"})->args, ElementsAre("-"));
  absl::StatusOr<Invocation> inv = Parse({"status", "--", "--odd-id"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(inv->args, ElementsAre("--odd-id"));
}

TEST(ParseArgsTest, JobsPagingFlags) {
  absl::StatusOr<Invocation> inv = Parse(
      {"jobs", "--page_size=5", "--page-token=t", "--all", "--output=text"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->options.page_size, 5);
  EXPECT_EQ(inv->options.page_token, "t");
  EXPECT_TRUE(inv->options.all_pages);
  EXPECT_FALSE(inv->options.json);
}

TEST(ParseArgsTest, UsageErrorsExplainThemselves) {
  EXPECT_THAT(Parse({}).status().message(), HasSubstr("no command given"));
  EXPECT_THAT(Parse({"frobnicate"}).status().message(),
              HasSubstr("unknown command \"frobnicate\""));
  EXPECT_THAT(Parse({"jobs", "--bogus"}).status().message(),
              HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(Parse({"status", "j1", "--wait"}).status().message(),
              AllOf(HasSubstr("--wait does not apply to status"),
                    HasSubstr("usage: dagctl status JOB")));
  EXPECT_THAT(Parse({"result", "j1"}).status().message(),
              AllOf(HasSubstr("result needs JOB TASK"),
                    HasSubstr("usage: dagctl result JOB TASK")));
  EXPECT_THAT(Parse({"workers", "extra"}).status().message(),
              HasSubstr("too many arguments"));
  EXPECT_THAT(Parse({"jobs", "--server"}).status().message(),
              HasSubstr("--server needs a value"));
  EXPECT_THAT(Parse({"jobs", "-o", "yaml"}).status().message(),
              HasSubstr("--output takes json or text"));
  EXPECT_THAT(Parse({"jobs", "--page_size=many"}).status().message(),
              HasSubstr("--page_size takes a number"));
  EXPECT_THAT(Parse({"jobs", "--timeout=soon"}).status().message(),
              HasSubstr("--timeout takes a positive duration"));
  EXPECT_THAT(Parse({"submit", "f", "--wait=maybe"}).status().message(),
              HasSubstr("--wait takes true or false"));
  EXPECT_EQ(Parse({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HelpTest, OverviewListsCommandsFlagsAndExitCodes) {
  absl::StatusOr<Invocation> inv = Parse({"--help"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(WantsHelp(*inv));
  const std::string text = HelpText(*inv);
  for (const char* word :
       {"submit FILE|-", "status JOB", "watch JOB", "cancel JOB", "delete JOB",
        "result JOB TASK", "jobs", "tasks JOB", "workers", "graph JOB",
        "--server", "-o, --output", "--wait", "--request_id", "--page_size",
        "exit codes"}) {
    EXPECT_THAT(text, HasSubstr(word));
  }
  EXPECT_EQ(HelpText(*Parse({"help"})), text);
}

TEST(HelpTest, CommandHelp) {
  absl::StatusOr<Invocation> inv = Parse({"help", "submit"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(HelpText(*inv), HasSubstr("usage: dagctl submit FILE|- [--wait] "
                                        "[--request_id=ID]"));
  // --help wins over missing arguments.
  absl::StatusOr<Invocation> flag = Parse({"result", "--help"});
  ASSERT_TRUE(flag.ok()) << flag.status();
  EXPECT_THAT(HelpText(*flag), HasSubstr("usage: dagctl result JOB TASK"));
}

TEST(ParseArgsTest, GraphTakesAJobAndRejectsJson) {
  absl::StatusOr<Invocation> inv = Parse({"graph", "j1", "-o", "text"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "graph");
  EXPECT_THAT(inv->args, ElementsAre("j1"));
  const absl::Status json = Parse({"graph", "j1", "-o", "json"}).status();
  EXPECT_EQ(json.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(json.message(),
              AllOf(HasSubstr("-o json does not apply: graph prints Graphviz "
                              "DOT only"),
                    HasSubstr("dagctl tasks JOB -o json"),
                    HasSubstr("usage: dagctl graph JOB")));
  EXPECT_THAT(Parse({"graph"}).status().message(),
              HasSubstr("graph needs JOB"));
}

TEST(ParseArgsTest, DeleteTakesOneJob) {
  absl::StatusOr<Invocation> inv = Parse({"delete", "j4"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "delete");
  EXPECT_THAT(inv->args, ElementsAre("j4"));
  EXPECT_THAT(Parse({"delete"}).status().message(),
              AllOf(HasSubstr("delete needs JOB"),
                    HasSubstr("usage: dagctl delete JOB")));
  EXPECT_THAT(Parse({"delete", "j1", "j2"}).status().message(),
              HasSubstr("too many arguments for delete"));
  EXPECT_THAT(Parse({"delete", "j1", "--wait"}).status().message(),
              HasSubstr("--wait does not apply to delete"));
}

TEST(HelpTest, DeleteHelpSaysWhatGoesAndWhatMayNot) {
  const std::string help = HelpText(*Parse({"help", "delete"}));
  EXPECT_THAT(help,
              AllOf(HasSubstr("usage: dagctl delete JOB"), HasSubstr("results"),
                    HasSubstr("request id"), HasSubstr("cancel a running one"),
                    HasSubstr("--retention")));
}

TEST(HelpTest, GraphAndWatchHelpExplainTheirOutput) {
  const std::string graph = HelpText(*Parse({"help", "graph"}));
  EXPECT_THAT(graph, AllOf(HasSubstr("usage: dagctl graph JOB"),
                           HasSubstr("dot -Tsvg > j1.svg"),
                           HasSubstr("SUCCEEDED palegreen"),
                           HasSubstr("(dashed)"), HasSubstr("-o json")));
  const std::string watch = HelpText(*Parse({"watch", "--help"}));
  EXPECT_THAT(watch, AllOf(HasSubstr("ETA 3.9s"), HasSubstr("ETA -")));
}

}  // namespace
}  // namespace dagd::dagctl
