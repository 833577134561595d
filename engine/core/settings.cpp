// Text parsing and range text for core/settings.h.
#include "core/settings.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace den2moe {

namespace {
std::string num(double v) { return std::isinf(v) ? (v > 0 ? "inf" : "-inf") : format_real(v); }
}  // namespace

std::string FieldInfo::range_text() const {
    const bool lo = std::isfinite(min), hi = std::isfinite(max);
    if (!lo && !hi) return "any value";
    if (lo && hi) return num(min) + (min_open ? " < x " : " <= x ") + (max_open ? "< " : "<= ") + num(max);
    if (lo) return std::string(min_open ? "x > " : "x >= ") + num(min);
    return std::string(max_open ? "x < " : "x <= ") + num(max);
}

bool FieldInfo::in_range(double v) const {
    if (min_open ? !(v > min) : !(v >= min)) return false;
    if (max_open ? !(v < max) : !(v <= max)) return false;
    return true;
}

int64_t parse_int_text(const std::string& text, const std::string& what) {
    D2M_CHECK(!text.empty(), InvalidInput, what, " expects an integer, got nothing");
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    D2M_CHECK(end && *end == 0, InvalidInput, what, " expects an integer, got '", text, "'");
    D2M_CHECK(errno != ERANGE, InvalidInput, what, " = ", text, " does not fit a 64-bit integer");
    return static_cast<int64_t>(v);
}

double parse_real_text(const std::string& text, const std::string& what) {
    D2M_CHECK(!text.empty(), InvalidInput, what, " expects a number, got nothing");
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    D2M_CHECK(end && *end == 0, InvalidInput, what, " expects a number, got '", text, "'");
    D2M_CHECK(errno != ERANGE && std::isfinite(v), InvalidInput, what, " = ", text, " is not a finite number");
    return v;
}

bool parse_bool_text(const std::string& text, const std::string& what) {
    if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
    if (text == "0" || text == "false" || text == "no" || text == "off") return false;
    D2M_FAIL(InvalidInput, what, " expects true or false, got '", text, "'");
}

std::string format_real(double v) {
    char buf[64];
    for (int prec = 6; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

}  // namespace den2moe
