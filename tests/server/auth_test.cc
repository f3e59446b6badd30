#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auth/authenticator.h"
#include "server/auth/principal.h"
#include "server/auth/standing_caller.h"
#include "server/auth/token_table.h"
#include "tests/testutil/process.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

TEST(TokenHashTest, IsTheLowerCaseHexSha256OfTheToken) {
  // FIPS 180-2's example: SHA-256("abc").
  EXPECT_EQ(TokenHash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenTableTest, FindsTheTenantAndRoleOfAListedToken) {
  const std::string text = absl::StrCat(
      "# team tokens\n", "\n", TokenHash("secret-a"), " alpha submit ci\n",
      TokenHash("secret-b"), "\tbeta read   # dashboards\n",
      TokenHash("secret-c"), " ops admin\n");
  absl::StatusOr<TokenTable> table = TokenTable::Parse(text, "tokens");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 3u);

  std::optional<Principal> a = table->Find("secret-a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->tenant, "alpha");
  EXPECT_EQ(a->role, Role::kSubmit);
  EXPECT_EQ(a->name, "token ci");

  std::optional<Principal> b = table->Find("secret-b");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->tenant, "beta");
  EXPECT_EQ(b->role, Role::kRead);
  // Unnamed: the start of its hash, never the token.
  EXPECT_EQ(b->name,
            absl::StrCat("token sha256:", TokenHash("secret-b").substr(0, 12)));

  EXPECT_FALSE(table->Find("secret-d").has_value());
  EXPECT_FALSE(table->Find("").has_value());
  // The hash itself is not a token.
  EXPECT_FALSE(table->Find(TokenHash("secret-a")).has_value());
}

TEST(TokenTableTest, ClientCertificatesAreListedByCommonName) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(
      absl::StrCat("cert:ci-runner alpha submit ci\n", "cert:probe ops read\n",
                   TokenHash("secret-a"), " alpha read\n"),
      "tokens");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 3u);
  std::optional<Principal> ci = table->FindCertificate("ci-runner");
  ASSERT_TRUE(ci.has_value());
  EXPECT_EQ(ci->tenant, "alpha");
  EXPECT_EQ(ci->role, Role::kSubmit);
  EXPECT_EQ(ci->name, "certificate ci");
  EXPECT_EQ(table->FindCertificate("probe")->name, "certificate CN=probe");
  EXPECT_FALSE(table->FindCertificate("worker-1").has_value());
  // A common name is not a token, nor a token a common name.
  EXPECT_FALSE(table->Find("cert:ci-runner").has_value());
  EXPECT_FALSE(table->FindCertificate("secret-a").has_value());
  EXPECT_THAT(TokenTable::Parse("cert: a read\n", "t").status().message(),
              HasSubstr("common name"));
  EXPECT_THAT(
      TokenTable::Parse("cert:x a read\ncert:x b read\n", "t")
          .status()
          .message(),
      HasSubstr("line 2: this common name is listed on an earlier line"));
}

TEST(CertificateIdentityTest, ATokenCountsBeforeACertificate) {
  // Without a token, the verified certificate's common name says who
  // calls; a token, when sent, is what counts.
  testing::TempDir* dir = testing::TempDir::Create("dagd-auth-")->release();
  const std::string path = dir->path() + "/tokens";
  std::ofstream(path) << "cert:ci-runner alpha submit\n"
                      << TokenHash("secret-b") << " beta read\n";
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::FromFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ((*auth)->Authenticate(std::nullopt, "ci-runner")->tenant, "alpha");
  EXPECT_EQ((*auth)->Authenticate("Bearer secret-b", "ci-runner")->tenant,
            "beta");
  EXPECT_EQ((*auth)->Authenticate(std::nullopt, "worker-1").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->Authenticate(std::nullopt).status().code(),
            absl::StatusCode::kUnauthenticated);
  delete dir;
}

TEST(TokenTableTest, UpperCaseHashesMatchToo) {
  std::string hash = TokenHash("secret-a");
  for (char& c : hash) c = static_cast<char>(std::toupper(c));
  absl::StatusOr<TokenTable> table =
      TokenTable::Parse(hash + " alpha read\n", "tokens");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(table->Find("secret-a").has_value());
}

TEST(TokenTableTest, RefusesBadLinesNamingTheLineAndField) {
  const std::string hash = TokenHash("x");
  struct Case {
    std::string text;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"secret alpha read\n",
            "line 1: the first field must be the "
            "token's SHA-256"},
           {absl::StrCat("# ok\n", hash, " alpha\n"), "line 2: expected"},
           {absl::StrCat(hash, " alpha writer\n"), "role 'writer'"},
           {absl::StrCat(hash, " al/pha read\n"), "tenant 'al/pha'"},
           {absl::StrCat(hash, " a read\n", hash, " b read\n"),
            "line 2: this token's hash is listed on an earlier line"},
           {absl::StrCat(hash, " a read x y\n"), "got 5 field(s)"},
           {std::string(65, 'a') + " a read\n", "64 hex digits"},
       }) {
    absl::StatusOr<TokenTable> table = TokenTable::Parse(c.text, "tokens.txt");
    ASSERT_FALSE(table.ok()) << c.text;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(table.status().message(), HasSubstr("tokens.txt line "));
    EXPECT_THAT(table.status().message(), HasSubstr(c.says)) << c.text;
  }
}

TEST(PrincipalTest, RolesIncludeTheOnesBeforeThem) {
  Principal reader{"r", "t", Role::kRead};
  Principal submitter{"s", "t", Role::kSubmit};
  Principal admin{"a", "t", Role::kAdmin};
  EXPECT_TRUE(reader.May(Role::kRead));
  EXPECT_FALSE(reader.May(Role::kSubmit));
  EXPECT_TRUE(submitter.May(Role::kSubmit));
  EXPECT_FALSE(submitter.May(Role::kAdmin));
  EXPECT_TRUE(admin.May(Role::kAdmin));
  // Only admins see other tenants' jobs.
  EXPECT_TRUE(submitter.Sees("t"));
  EXPECT_FALSE(submitter.Sees("u"));
  EXPECT_FALSE(submitter.Sees(""));
  EXPECT_TRUE(admin.Sees("u"));
}

TEST(PrincipalTest, TenantNames) {
  EXPECT_TRUE(IsTenantName("team-a.prod_1"));
  EXPECT_FALSE(IsTenantName(""));
  EXPECT_FALSE(IsTenantName(std::string(65, 'a')));
  EXPECT_FALSE(IsTenantName("a b"));
  EXPECT_FALSE(IsTenantName("a\x1f"));
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::TempDir>> dir =
        testing::TempDir::Create();
    ASSERT_TRUE(dir.ok());
    dir_ = *std::move(dir);
    path_ = dir_->path() + "/tokens";
  }
  void Write(const std::string& text) {
    std::ofstream out(path_, std::ios::trunc);
    out << text;
  }
  std::unique_ptr<testing::TempDir> dir_;
  std::string path_;
};

TEST_F(AuthenticatorTest, WithoutAFileEveryoneIsAnAdmin) {
  Authenticator open;
  absl::StatusOr<Principal> caller = open.Authenticate(std::nullopt);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->role, Role::kAdmin);
  EXPECT_EQ(caller->tenant, "");
}

TEST_F(AuthenticatorTest, RefusesMissingMalformedAndUnknownTokens) {
  Write(TokenHash("secret-a") + " alpha submit\n");
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::FromFile(path_);
  ASSERT_TRUE(auth.ok()) << auth.status();
  for (std::optional<absl::string_view> header :
       std::vector<std::optional<absl::string_view>>{
           std::nullopt, "secret-a", "Basic secret-a", "Bearer secret-b",
           "Bearer "}) {
    absl::StatusOr<Principal> caller = (*auth)->Authenticate(header);
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated)
        << header.value_or("(none)");
  }
  absl::StatusOr<Principal> caller = (*auth)->Authenticate("Bearer secret-a");
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->tenant, "alpha");
}

TEST_F(AuthenticatorTest, ReloadSwapsTheTableAndKeepsItOnABadFile) {
  Write(TokenHash("old") + " alpha read\n");
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::FromFile(path_);
  ASSERT_TRUE(auth.ok()) << auth.status();

  Write(TokenHash("new") + " alpha read\n");
  ASSERT_EQ((*auth)->Reload(), absl::OkStatus());
  EXPECT_TRUE((*auth)->Authenticate("Bearer new").ok());
  EXPECT_FALSE((*auth)->Authenticate("Bearer old").ok());

  // A broken file is refused, and the tokens in use stay.
  Write("not a hash alpha read\n");
  absl::Status reloaded = (*auth)->Reload();
  EXPECT_EQ(reloaded.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reloaded.message(), HasSubstr("line 1"));
  EXPECT_TRUE((*auth)->Authenticate("Bearer new").ok());
}

// SIGHUP caught a file between its truncation and its writing: an empty
// file is refused and the tokens stay; a file of comments alone takes them
// all off.
TEST_F(AuthenticatorTest, ReloadRefusesAnEmptyFile) {
  Write(TokenHash("t") + " alpha read\n");
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::FromFile(path_);
  ASSERT_TRUE(auth.ok()) << auth.status();
  Write(" \n");
  const absl::Status empty = (*auth)->Reload();
  EXPECT_EQ(empty.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(empty.message(), HasSubstr("--tokens_file"));
  EXPECT_THAT(empty.message(), HasSubstr("is empty"));
  EXPECT_TRUE((*auth)->Authenticate("Bearer t").ok());
  Write("# nobody, for now\n");
  ASSERT_EQ((*auth)->Reload(), absl::OkStatus());
  EXPECT_EQ((*auth)->size(), 0u);
  EXPECT_FALSE((*auth)->Authenticate("Bearer t").ok());
}

TEST_F(AuthenticatorTest, AMissingFileIsAnError) {
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::FromFile(path_ + ".none");
  ASSERT_FALSE(auth.ok());
  EXPECT_THAT(auth.status().message(), HasSubstr("--tokens_file"));
}

// A stream's caller is looked at again after each reread of the file: a
// token moved to another role, or taken off, ends it for good; the same
// line reread keeps it.
TEST_F(AuthenticatorTest, AStandingCallerEndsWhenTheFileNoLongerNamesIt) {
  Write(TokenHash("t") + " alpha read viewer\n");
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::FromFile(path_);
  ASSERT_TRUE(auth.ok()) << auth.status();
  const uint64_t looked = (*auth)->generation();
  absl::StatusOr<Principal> who = (*auth)->Authenticate("Bearer t");
  ASSERT_TRUE(who.ok()) << who.status();
  StandingCaller caller(auth->get(), looked, *who, "Bearer t", std::nullopt);
  EXPECT_EQ(caller.Check(), absl::OkStatus());

  Write(absl::StrCat("# reordered\n", TokenHash("u"), " beta read\n",
                     TokenHash("t"), " alpha read viewer\n"));
  ASSERT_EQ((*auth)->Reload(), absl::OkStatus());
  EXPECT_EQ(caller.Check(), absl::OkStatus());

  Write(TokenHash("t") + " alpha submit viewer\n");
  ASSERT_EQ((*auth)->Reload(), absl::OkStatus());
  const absl::Status ended = caller.Check();
  EXPECT_EQ(ended.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(ended.message(), HasSubstr("token viewer"));

  // Once ended, always: the line back does not reopen the stream.
  Write(TokenHash("t") + " alpha read viewer\n");
  ASSERT_EQ((*auth)->Reload(), absl::OkStatus());
  EXPECT_EQ(caller.Check().code(), absl::StatusCode::kUnauthenticated);

  // A refused reread changes nothing.
  const uint64_t before = (*auth)->generation();
  Write("broken\n");
  EXPECT_FALSE((*auth)->Reload().ok());
  EXPECT_EQ((*auth)->generation(), before);

  // The file reread while a caller was being looked up (between reading
  // the generation and the lookup's answer): it is looked at again at its
  // first check, and the token taken off is found.
  Write(TokenHash("t") + " alpha read viewer\n");
  ASSERT_EQ((*auth)->Reload(), absl::OkStatus());
  const uint64_t looking = (*auth)->generation();
  ASSERT_TRUE((*auth)->Authenticate("Bearer t").ok());
  Write(TokenHash("u") + " alpha read other\n");
  ASSERT_EQ((*auth)->Reload(), absl::OkStatus());
  StandingCaller late(auth->get(), looking, *who, "Bearer t", std::nullopt);
  EXPECT_EQ(late.Check().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace dagd
