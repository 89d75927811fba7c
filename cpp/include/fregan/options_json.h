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

// Defines to_json / from_json for an options struct from its field list: every field is written,
// and reading goes through OptionReader (unknown keys and wrong types are errors; missing keys
// keep their defaults).  `what` names the struct in error messages.  Use it in a .cpp file,
// with the two functions declared in the struct's header.
#define FREGAN_OPTION_TO_JSON(field) fregan_json[#field] = fregan_options.field;
#define FREGAN_OPTION_FROM_JSON(field) fregan_reader.read(#field, fregan_options.field);
#define FREGAN_DEFINE_OPTIONS_JSON(Type, what, ...)                                 \
  void to_json(nlohmann::json& fregan_json, const Type& fregan_options) {           \
    fregan_json = nlohmann::json::object();                                         \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FREGAN_OPTION_TO_JSON, __VA_ARGS__))   \
  }                                                                                 \
  void from_json(const nlohmann::json& fregan_json, Type& fregan_options) {         \
    ::fregan::detail::OptionReader fregan_reader(fregan_json, what);                \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FREGAN_OPTION_FROM_JSON, __VA_ARGS__)) \
    fregan_reader.finish();                                                         \
  }
