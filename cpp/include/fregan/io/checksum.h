#pragma once
// Checksums that tell a damaged file or tensor from a good one: SHA-256 of whole files (what the
// model manifest records for the shipped checkpoints) and a fast 64-bit hash (FNV-1a over 8-byte
// words) for the weights a checkpoint's header records.
#include <cstddef>
#include <cstdint>
#include <string>

namespace fregan::io {

// Lower-case hex SHA-256 of the file's bytes.  Throws FileError if it cannot be read.
std::string sha256_file(const std::string& path);
// Lower-case hex SHA-256 of `size` bytes.
std::string sha256_bytes(const void* data, size_t size);

// A running 64-bit hash (not cryptographic: it catches damage, not forgery).
class Hash64 {
 public:
  void update(const void* data, size_t size);
  void update(const std::string& text) { update(text.data(), text.size()); }
  uint64_t value() const { return state_; }
  std::string hex() const;

 private:
  uint64_t state_ = 0xcbf29ce484222325ULL;  // FNV-1a's offset basis
};

}  // namespace fregan::io
