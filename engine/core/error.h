// den2moe::Error — the one exception type the engine throws for anything a user can act on.
// Every message says what failed, on which object, expected vs found, and a hint where there is one.
// den2moe::Cancelled is separate: a user's own cancel is never an error.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace den2moe {

enum class ErrorKind { InvalidInput, Io, Incompatible, OutOfMemory, Internal };

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, std::string message, std::string hint = {});
    ErrorKind kind() const { return kind_; }
    const std::string& message() const { return message_; }  ///< without the hint
    const std::string& hint() const { return hint_; }
    /// A copy with "context: " prepended, as a stage adds context while the error travels up.
    Error with_context(const std::string& context) const;

private:
    ErrorKind kind_;
    std::string message_;
    std::string hint_;
};

/// Thrown by RunContext::check_cancelled(); not derived from Error on purpose.
class Cancelled : public std::exception {
public:
    const char* what() const noexcept override { return "cancelled"; }
};

namespace detail {
template <typename... Args>
std::string str_cat(Args&&... args) {
    std::ostringstream os;
    (os << ... << std::forward<Args>(args));
    return os.str();
}
}  // namespace detail

/// Concatenate anything streamable into a string: str("layer ", il, " has ", n, " channels").
template <typename... Args>
std::string str(Args&&... args) {
    return detail::str_cat(std::forward<Args>(args)...);
}

/// Hint marker: D2M_CHECK(ok, ErrorKind::Io, "cannot open ", path, den2moe::Hint{"is the path right?"});
struct Hint {
    std::string text;
};

namespace detail {
struct MessageBuilder {
    std::ostringstream os;
    std::string hint;
    template <typename T>
    void add(T&& v) { os << std::forward<T>(v); }
    void add(const Hint& h) { hint = h.text; }
    void add(Hint& h) { hint = h.text; }
    void add(Hint&& h) { hint = std::move(h.text); }
};
template <typename... Args>
[[noreturn]] void throw_error(ErrorKind kind, Args&&... args) {
    MessageBuilder b;
    (b.add(std::forward<Args>(args)), ...);
    throw Error(kind, b.os.str(), b.hint);
}
}  // namespace detail

}  // namespace den2moe

/// D2M_CHECK(cond, kind, message parts..., [den2moe::Hint{...}]) — user-facing check.
#define D2M_CHECK(cond, kind, ...)                                         \
    do {                                                                   \
        if (!(cond)) {                                                     \
            ::den2moe::detail::throw_error(::den2moe::ErrorKind::kind, __VA_ARGS__); \
        }                                                                  \
    } while (0)

/// D2M_FAIL(kind, message parts...) — unconditional user-facing error.
#define D2M_FAIL(kind, ...) ::den2moe::detail::throw_error(::den2moe::ErrorKind::kind, __VA_ARGS__)

/// Programmer invariant; never presented as a user message.
#define D2M_ASSERT(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            ::den2moe::detail::throw_error(::den2moe::ErrorKind::Internal, "internal invariant failed: ", \
                                           #cond, " at ", __FILE__, ":", __LINE__);            \
        }                                                                                      \
    } while (0)
