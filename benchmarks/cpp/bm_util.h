#pragma once
// Helpers shared by the benchmark programs.
#include <sys/resource.h>

namespace fregan::bench {

// The process's peak resident memory so far in MB (getrusage): run one case per process
// (--benchmark_filter) to read a case's own peak.
inline double max_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // Linux reports KiB
}

}  // namespace fregan::bench
