// Settings schemas: every pipeline step's settings are a plain struct with its defaults written once
// (in the struct), described by one Schema<S> that both front ends and the project file use:
//   - the project file section (to_json / read_json: keys, types, errors naming the key),
//   - CLI flags and the app's headless options (set_text: "--top-k 2" → S::top_k, with the range check),
//   - the app's widgets and --help (fields(): type, range, choices, one-line help, the default),
//   - validate(): the ranges and choices, the house error before any work starts.
// Cross-field and project-dependent rules stay in each step's own validate_*() function.
// Torch-free and Qt-free: the GUI includes it directly.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace den2moe {

enum class FieldType { Int, Real, Bool, Text, Choice };

/// What a front end needs to show, parse and check one setting.
struct FieldInfo {
    std::string key;   ///< project-file key, snake_case ("top_k")
    std::string flag;  ///< CLI / headless option without dashes ("top-k")
    FieldType type = FieldType::Text;
    std::string help;  ///< one line
    std::vector<std::string> choices;  ///< FieldType::Choice
    double min = -std::numeric_limits<double>::infinity();  ///< Int / Real, inclusive unless *_open
    double max = std::numeric_limits<double>::infinity();
    bool min_open = false, max_open = false;
    std::string default_text;  ///< the struct's default, as text
    /// "lo <= x <= hi", "x > 0", ... ("" when unbounded)
    std::string range_text() const;
    bool in_range(double v) const;
};

/// Parse helpers shared by every schema and the CLI: whole-string integers and numbers, no
/// overflow, no trailing junk. Throw Error(InvalidInput) naming `what`.
int64_t parse_int_text(const std::string& text, const std::string& what);
double parse_real_text(const std::string& text, const std::string& what);
bool parse_bool_text(const std::string& text, const std::string& what);
std::string format_real(double v);  ///< shortest text that reads back to v

template <class S>
class Schema {
public:
    explicit Schema(std::string section) : section_(std::move(section)) {}

    const std::string& section() const { return section_; }
    const std::vector<FieldInfo>& fields() const { return info_; }
    const FieldInfo* find(const std::string& key_or_flag) const {
        for (const auto& f : info_) {
            if (f.key == key_or_flag || f.flag == key_or_flag) return &f;
        }
        return nullptr;
    }

    // ---- declaring fields (flag "" = the key with '_' → '-') ----
    template <class I>
    Schema& integer(const std::string& key, I S::*m, const std::string& help, double lo = -INFINITY,
                    double hi = INFINITY, const std::string& flag = {}) {
        FieldInfo f = base(key, flag, FieldType::Int, help);
        f.min = lo;
        f.max = hi;
        f.default_text = std::to_string(S{}.*m);
        add(f, Access{[m](const S& s) { return nlohmann::json(s.*m); },
                      [m, key](S& s, const nlohmann::json& j, const std::string& where) {
                          if (!j.is_number_integer() && !j.is_number_unsigned()) {
                              type_error(where, key, "an integer", j);
                          }
                          s.*m = j.get<I>();
                      },
                      [m, f](S& s, const std::string& text) {
                          s.*m = static_cast<I>(parse_int_text(text, "--" + f.flag));
                      },
                      [m](const S& s) { return static_cast<double>(s.*m); }, nullptr});
        return *this;
    }
    Schema& real(const std::string& key, double S::*m, const std::string& help, double lo = -INFINITY,
                 double hi = INFINITY, bool lo_open = false, bool hi_open = false, const std::string& flag = {}) {
        FieldInfo f = base(key, flag, FieldType::Real, help);
        f.min = lo;
        f.max = hi;
        f.min_open = lo_open;
        f.max_open = hi_open;
        f.default_text = format_real(S{}.*m);
        add(f, Access{[m](const S& s) { return nlohmann::json(s.*m); },
                      [m, key](S& s, const nlohmann::json& j, const std::string& where) {
                          if (!j.is_number()) type_error(where, key, "a number", j);
                          s.*m = j.get<double>();
                      },
                      [m, f](S& s, const std::string& text) { s.*m = parse_real_text(text, "--" + f.flag); },
                      [m](const S& s) { return s.*m; }, nullptr});
        return *this;
    }
    Schema& flag(const std::string& key, bool S::*m, const std::string& help, const std::string& flag = {}) {
        FieldInfo f = base(key, flag, FieldType::Bool, help);
        f.default_text = (S{}.*m) ? "true" : "false";
        add(f, Access{[m](const S& s) { return nlohmann::json(s.*m); },
                      [m, key](S& s, const nlohmann::json& j, const std::string& where) {
                          if (!j.is_boolean()) type_error(where, key, "true or false", j);
                          s.*m = j.get<bool>();
                      },
                      [m, f](S& s, const std::string& text) { s.*m = parse_bool_text(text, "--" + f.flag); },
                      nullptr, nullptr});
        return *this;
    }
    Schema& text(const std::string& key, std::string S::*m, const std::string& help, const std::string& flag = {}) {
        FieldInfo f = base(key, flag, FieldType::Text, help);
        f.default_text = S{}.*m;
        add(f, Access{[m](const S& s) { return nlohmann::json(s.*m); },
                      [m, key](S& s, const nlohmann::json& j, const std::string& where) {
                          if (!j.is_string()) type_error(where, key, "a string", j);
                          s.*m = j.get<std::string>();
                      },
                      [m](S& s, const std::string& text) { s.*m = text; }, nullptr, nullptr});
        return *this;
    }
    /// A string member restricted to `choices` (checked by validate(), set_text() and read_json()).
    Schema& choice(const std::string& key, std::string S::*m, std::vector<std::string> choices,
                   const std::string& help, const std::string& flag = {}) {
        FieldInfo f = base(key, flag, FieldType::Choice, help);
        f.choices = std::move(choices);
        f.default_text = S{}.*m;
        add(f, Access{[m](const S& s) { return nlohmann::json(s.*m); },
                      [m, key](S& s, const nlohmann::json& j, const std::string& where) {
                          if (!j.is_string()) type_error(where, key, "a string", j);
                          s.*m = j.get<std::string>();
                      },
                      [m](S& s, const std::string& text) { s.*m = text; }, nullptr,
                      [m](const S& s) { return s.*m; }});
        return *this;
    }
    /// An enum member written by name: `names` lists every value with its text.
    template <class E>
    Schema& enumeration(const std::string& key, E S::*m, std::vector<std::pair<E, std::string>> names,
                        const std::string& help, const std::string& flag = {}) {
        FieldInfo f = base(key, flag, FieldType::Choice, help);
        for (const auto& n : names) f.choices.push_back(n.second);
        for (const auto& n : names) {
            if (n.first == S{}.*m) f.default_text = n.second;
        }
        auto to_name = [names](E v) {
            for (const auto& n : names) {
                if (n.first == v) return n.second;
            }
            return std::string("?");
        };
        auto from_name = [names, f](const std::string& text, const std::string& what) {
            for (const auto& n : names) {
                if (n.second == text) return n.first;
            }
            D2M_FAIL(InvalidInput, what, " must be one of ", join(f.choices), ", got '", text, "'");
        };
        add(f, Access{[m, to_name](const S& s) { return nlohmann::json(to_name(s.*m)); },
                      [m, key, from_name](S& s, const nlohmann::json& j, const std::string& where) {
                          if (!j.is_string()) type_error(where, key, "a string", j);
                          s.*m = from_name(j.get<std::string>(), where + key);
                      },
                      [m, f, from_name](S& s, const std::string& text) { s.*m = from_name(text, "--" + f.flag); },
                      nullptr, [m, to_name](const S& s) { return to_name(s.*m); }});
        return *this;
    }

    // ---- using them ----
    /// Every field under its key.
    nlohmann::json to_json(const S& s) const {
        nlohmann::json j = nlohmann::json::object();
        for (size_t i = 0; i < info_.size(); ++i) j[info_[i].key] = access_[i].get(s);
        return j;
    }
    /// Reads the keys present in `j` (absent keys keep their value). `where` names the object for
    /// errors, e.g. "project demo.den2moe.json: conversion.". Unknown keys are errors (a typo would
    /// otherwise be ignored silently).
    void read_json(S& s, const nlohmann::json& j, const std::string& where) const {
        if (j.is_null()) return;
        D2M_CHECK(j.is_object(), InvalidInput, where, " must be an object, found ", j.type_name());
        for (auto it = j.begin(); it != j.end(); ++it) {
            const FieldInfo* f = find_key(it.key());
            D2M_CHECK(f != nullptr, InvalidInput, where, it.key(), " is not a setting of ", section_,
                      Hint{"known: " + keys()});
            if (it.value().is_null()) continue;
            access_[index(*f)].read(s, it.value(), where);
        }
        check(s, where);
    }
    /// Sets one field from text (a CLI flag's value). `key_or_flag` without dashes. Checks the
    /// field's range / choices at once, naming the flag.
    void set_text(S& s, const std::string& key_or_flag, const std::string& text) const {
        const FieldInfo* f = find(key_or_flag);
        D2M_CHECK(f != nullptr, InvalidInput, "unknown option --", key_or_flag, " for ", section_);
        S copy = s;  // `s` is left unchanged when the value is refused
        access_[index(*f)].set(copy, text);
        check_field(copy, *f, "--" + f->flag);
        s = std::move(copy);
    }
    /// The current value of a field as text ("" for an unknown key).
    std::string get_text(const S& s, const std::string& key_or_flag) const {
        const FieldInfo* f = find(key_or_flag);
        if (!f) return {};
        const nlohmann::json j = access_[index(*f)].get(s);
        if (j.is_string()) return j.get<std::string>();
        if (j.is_number_float()) return format_real(j.get<double>());
        return j.dump();
    }
    /// Every range and choice problem, one message per field (empty = fine).
    std::vector<std::string> problems(const S& s, const std::string& where) const {
        std::vector<std::string> out;
        for (const auto& f : info_) {
            try {
                check_field(s, f, where + f.key);
            } catch (const Error& e) {
                out.push_back(e.message());
            }
        }
        return out;
    }
    /// Throws the first range / choice problem as the house error.
    void check(const S& s, const std::string& where) const {
        for (const auto& f : info_) check_field(s, f, where + f.key);
    }

private:
    struct Access {
        std::function<nlohmann::json(const S&)> get;
        std::function<void(S&, const nlohmann::json&, const std::string&)> read;
        std::function<void(S&, const std::string&)> set;
        std::function<double(const S&)> number;       ///< Int / Real
        std::function<std::string(const S&)> chosen;  ///< Choice
    };
    static std::string join(const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
        return s;
    }
    std::string keys() const {
        std::vector<std::string> k;
        for (const auto& f : info_) k.push_back(f.key);
        return join(k);
    }
    [[noreturn]] static void type_error(const std::string& where, const std::string& key, const char* expected,
                                        const nlohmann::json& found) {
        D2M_FAIL(InvalidInput, where, key, " must be ", expected, ", found ", found.type_name(), " ", found.dump());
    }
    FieldInfo base(const std::string& key, const std::string& flag, FieldType t, const std::string& help) const {
        FieldInfo f;
        f.key = key;
        f.flag = flag;
        if (f.flag.empty()) {
            f.flag = key;
            for (auto& c : f.flag) {
                if (c == '_') c = '-';
            }
        }
        f.type = t;
        f.help = help;
        return f;
    }
    void add(const FieldInfo& f, Access a) {
        info_.push_back(f);
        access_.push_back(std::move(a));
    }
    const FieldInfo* find_key(const std::string& key) const {
        for (const auto& f : info_) {
            if (f.key == key) return &f;
        }
        return nullptr;
    }
    size_t index(const FieldInfo& f) const { return static_cast<size_t>(&f - info_.data()); }
    void check_field(const S& s, const FieldInfo& f, const std::string& what) const {
        const Access& a = access_[index(f)];
        if (a.number) {
            const double v = a.number(s);
            D2M_CHECK(std::isfinite(v) && f.in_range(v), InvalidInput, what, " = ", format_real(v), " is out of range",
                      " (expected ", f.range_text(), ")", Hint{f.help});
        }
        if (a.chosen) {
            const std::string v = a.chosen(s);
            bool ok = false;
            for (const auto& c : f.choices) ok = ok || c == v;
            D2M_CHECK(ok, InvalidInput, what, " must be one of ", join(f.choices), ", got '", v, "'");
        }
    }

    std::string section_;
    std::vector<FieldInfo> info_;
    std::vector<Access> access_;
};

}  // namespace den2moe
