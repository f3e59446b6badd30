// dagd's data-plane secret (Registered.data_secret): every read of a held
// result presents it (FetchRequest.secret), and a worker serves only reads
// that do. dagd gives it to the workers that register with it, over TLS
// under --worker_ca. A client's certificate, which the same CA signs, is
// refused as a worker (a cert: line names it), so it never learns the
// secret and reads nothing from a worker's --data_listen; before, any
// certificate the CA signed read any key of any tenant there.
#ifndef DAGD_STORAGE_DATA_SECRET_H_
#define DAGD_STORAGE_DATA_SECRET_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace dagd {

// Thread-safe.
class DataSecret {
 public:
  void Set(std::string secret) {
    absl::MutexLock lock(&mu_);
    secret_ = std::move(secret);
  }
  std::string Get() const {
    absl::MutexLock lock(&mu_);
    return secret_;
  }
  // Whether a read presenting `presented` is served: it is the secret, or
  // none is set (a worker not yet registered with a dagd that has one).
  // Compared in constant time.
  bool Admits(absl::string_view presented) const {
    absl::MutexLock lock(&mu_);
    if (secret_.empty()) return true;
    if (presented.size() != secret_.size()) return false;
    unsigned char differ = 0;
    for (size_t i = 0; i < secret_.size(); ++i) {
      differ |= static_cast<unsigned char>(presented[i] ^ secret_[i]);
    }
    return differ == 0;
  }

 private:
  mutable absl::Mutex mu_;
  std::string secret_ ABSL_GUARDED_BY(mu_);
};

// The secret of the dagd whose attempt key (MetaStore::AttemptKey, made
// with its --data_dir and kept there) is `attempt_key`: the same across its
// restarts, so holders and readers registered before and after one agree,
// and not the attempt key itself (a worker must not seal attempts).
std::string DataSecretFromAttemptKey(absl::string_view attempt_key);

}  // namespace dagd

#endif  // DAGD_STORAGE_DATA_SECRET_H_
