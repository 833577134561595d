// For a case that needs the sentencepiece shim without reaching it through an uncaught load (which
// tests/support/check.h already turns into a skip in an AddressSanitizer build): one that catches load errors
// itself, or one that reads what an earlier, skipped case wrote. It skips in an AddressSanitizer build, which
// refuses the shim (engine/tokenizer/spm_tokenizer.cpp), and does nothing elsewhere.
#pragma once

#include <string>

#include "support/check.h"

namespace d2m_test {

inline void needs_sentencepiece_shim(const std::string& why = "") {
#if defined(__SANITIZE_ADDRESS__)
    skip("needs the sentencepiece shim, which an AddressSanitizer build refuses" + (why.empty() ? "" : ": " + why));
#else
    (void)why;
#endif
}

}  // namespace d2m_test
