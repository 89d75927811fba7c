#pragma once
// Reading option structs from JSON strictly: an unknown key or a value of the wrong type is an
// error naming the option, so a typo in a config never silently falls back to a default.
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "fregan/error.h"

namespace fregan::detail {

class OptionReader {
 public:
  OptionReader(const nlohmann::json& j, std::string what) : j_(j), what_(std::move(what)) {
    if (!j_.is_null() && !j_.is_object()) throw InvalidArgument(what_ + " options must be a JSON object");
  }
  template <typename T>
  void read(const std::string& key, T& value) {
    seen_.insert(key);
    if (j_.is_null() || !j_.contains(key)) return;
    try {
      value = j_.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
      throw InvalidArgument(what_ + " option '" + key + "' has the wrong type: " + j_.at(key).dump());
    }
  }
  void finish() const {
    if (j_.is_null()) return;
    for (const auto& item : j_.items()) {
      if (!seen_.count(item.key())) throw InvalidArgument("unknown " + what_ + " option '" + item.key() + "'");
    }
  }

 private:
  const nlohmann::json& j_;
  std::string what_;
  std::set<std::string> seen_;
};

}  // namespace fregan::detail
