#include "fregan/error.h"

namespace fregan {

void require(bool condition, const std::string& message) {
  if (!condition) throw InvalidArgument(message);
}

}  // namespace fregan
