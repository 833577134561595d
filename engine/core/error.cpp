// Error formatting: message, then the hint on its own line as "hint: ...".
#include "core/error.h"

namespace den2moe {

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::InvalidInput: return "invalid input";
        case ErrorKind::Io: return "I/O error";
        case ErrorKind::Incompatible: return "incompatible";
        case ErrorKind::OutOfMemory: return "out of memory";
        case ErrorKind::Internal: return "internal error";
    }
    return "error";
}

static std::string compose(const std::string& message, const std::string& hint) {
    return hint.empty() ? message : message + "\n  hint: " + hint;
}

Error::Error(ErrorKind kind, std::string message, std::string hint)
    : std::runtime_error(compose(message, hint)), kind_(kind), message_(std::move(message)),
      hint_(std::move(hint)) {}

Error Error::with_context(const std::string& context) const {
    return Error(kind_, context + ": " + message_, hint_);
}

}  // namespace den2moe
