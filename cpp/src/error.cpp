#include "fregan/error.h"

namespace fregan {

void require(bool condition, const std::string& message) {
  if (!condition) throw InvalidArgument(message);
}

namespace detail {

void throw_invalid_argument(const std::string& message) { throw InvalidArgument(message); }

}  // namespace detail
}  // namespace fregan
