#pragma once
// fregan reports every problem with an exception whose message names the problem (the file, the
// option, the sizes).  Python sees them as ValueError / FileNotFoundError / RuntimeError.
#include <stdexcept>
#include <string>

namespace fregan {

// Base of fregan's own errors.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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

}  // namespace fregan
