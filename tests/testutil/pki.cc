#include "tests/testutil/pki.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace dagd::testing {
namespace {

// Runs a shell command; an error naming it when it fails.
absl::Status Shell(const std::string& command) {
  const std::string full = command + " >/dev/null 2>&1";
  if (std::system(full.c_str()) != 0) {
    return absl::InternalError("failed: " + command);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Pki::MakeCa(const std::string& name) {
  return Shell(absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=", name,
      " -keyout ", Path(name, "key"), " -out ", Path(name, "pem")));
}

absl::Status Pki::MakeCert(const std::string& ca, const std::string& name,
                           const std::string& cn) {
  const std::string ext = Path(name, "ext");
  {
    std::ofstream out(ext);
    out << "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:" << cn << "\n"
        << "extendedKeyUsage=serverAuth,clientAuth\n";
  }
  if (absl::Status s = Shell(absl::StrCat(
          "openssl req -newkey rsa:2048 -nodes -subj /CN=", cn, " -keyout ",
          Path(name, "key"), " -out ", Path(name, "csr")));
      !s.ok()) {
    return s;
  }
  return Shell(absl::StrCat("openssl x509 -req -days 2 -in ", Path(name, "csr"),
                            " -CA ", Path(ca, "pem"), " -CAkey ",
                            Path(ca, "key"), " -CAcreateserial -extfile ", ext,
                            " -out ", Path(name, "pem")));
}

std::string Pki::Path(const std::string& name, const std::string& ext) const {
  return absl::StrCat(dir_, "/", name, ".", ext);
}

std::string Pki::Pem(const std::string& name) const {
  std::ifstream in(Path(name, "pem"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace dagd::testing
