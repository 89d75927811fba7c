#pragma once
// fregan reports every problem with an exception whose message names the problem (the file, the
// option, the sizes), from one hierarchy:
//
//   c10::Error (LibTorch's: code that catches LibTorch's errors catches fregan's too)
//   └─ fregan::Error            Python: fregan.Error, a RuntimeError
//      ├─ FileError             Python: fregan.FileError, an OSError
//      ├─ InvalidArgument       Python: fregan.InvalidArgument, a ValueError
//      └─ CheckpointError       Python: fregan.CheckpointError, a ValueError
//
// A mistake a caller can make (a bad option, size, shape or t) is checked with FREGAN_CHECK or
// require(), both of which throw InvalidArgument: the same mistake gives the same exception (and
// the same Python type) from every entry point.  TORCH_CHECK is left to LibTorch's own checks.
#include <string>

#include <c10/macros/Macros.h>
#include <c10/util/Exception.h>
#include <c10/util/StringUtil.h>

namespace fregan {

// Base of fregan's own errors.  what() is the message alone (no C++ backtrace, no source line).
class Error : public c10::Error {
 public:
  explicit Error(std::string message) : c10::Error(std::move(message), {}) {}
  const char* what() const noexcept override { return what_without_backtrace(); }
};

// A file or folder that should exist does not, or cannot be read.
class FileError : public Error {
 public:
  using Error::Error;
};

// A bad option, size or argument value given by the caller.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A checkpoint that is corrupt, foreign or of an unsupported format version.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

// Throws InvalidArgument(message) unless `condition`.
void require(bool condition, const std::string& message);

namespace detail {
[[noreturn]] void throw_invalid_argument(const std::string& message);
}  // namespace detail

}  // namespace fregan

// FREGAN_CHECK(condition, parts...): throws fregan::InvalidArgument unless `condition`, its message
// the parts streamed one after another (numbers, strings, tensor sizes), as TORCH_CHECK writes them
// but built only when the check fails.
#define FREGAN_CHECK(condition, ...)                                     \
  do {                                                                   \
    if (C10_UNLIKELY(!(condition))) {                                    \
      ::fregan::detail::throw_invalid_argument(::c10::str(__VA_ARGS__)); \
    }                                                                    \
  } while (false)
