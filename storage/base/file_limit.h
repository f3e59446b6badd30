// The open-files limit of a process with many connections (dagd with a
// fleet of workers, dagd-fleet with its simulated ones): shells and
// services start processes with a soft limit of 1,024, far below the hard
// limit the operator allows (LimitNOFILE=, ulimit -Hn).
#ifndef DAGD_STORAGE_BASE_FILE_LIMIT_H_
#define DAGD_STORAGE_BASE_FILE_LIMIT_H_

#include <cstdint>
#include <optional>
#include <utility>

namespace dagd {

// Raises the soft RLIMIT_NOFILE to the hard one. The limits before and
// after when it raised it; nullopt when it was already there or could not.
std::optional<std::pair<uint64_t, uint64_t>> RaiseOpenFilesLimit();

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_FILE_LIMIT_H_
