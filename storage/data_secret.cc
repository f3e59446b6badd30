#include "storage/data_secret.h"

#include <openssl/sha.h>

namespace dagd {

std::string DataSecretFromAttemptKey(absl::string_view attempt_key) {
  std::string input = "dagd data-plane secret";
  input.push_back('\0');
  input.append(attempt_key.data(), attempt_key.size());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

}  // namespace dagd
