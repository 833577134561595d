// Minimal test support for engine tests (plain CTest executables, no Qt):
// CHECK, CHECK_EQ, CHECK_CLOSE, CHECK_THROWS_WITH (asserts the message contains a substring),
// and an llm.c-style check_tensor report. A test file defines tests with TEST(name) and ends
// with D2M_TEST_MAIN(). Exit code = number of failed checks (capped, never 77), so CTest sees failures;
// 77 (CTest SKIP_RETURN_CODE) when every case that ran was skipped. A case skips by calling
// d2m_test::skip(why), or, in a sanitized build only, when the sentencepiece shim refuses to load.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace d2m_test {

inline int& failures() { static int n = 0; return n; }
inline int& checks() { static int n = 0; return n; }

struct Case { const char* name; std::function<void()> fn; };
inline std::vector<Case>& cases() { static std::vector<Case> c; return c; }
struct Register { Register(const char* n, std::function<void()> f) { cases().push_back({n, std::move(f)}); } };

/// Thrown by skip(): the case stops and is reported as skipped, not failed (unless a check already failed).
struct Skipped { std::string why; };
[[noreturn]] inline void skip(const std::string& why) { throw Skipped{why}; }
/// The exit code of a program whose every case was skipped (the test registrations set SKIP_RETURN_CODE 77).
constexpr int kSkipExit = 77;

/// An AddressSanitizer build refuses the sentencepiece shim (engine/tokenizer/spm_tokenizer.cpp: it needs
/// dlopen with RTLD_DEEPBIND, which ASan refuses); a case that reaches that refusal is skipped there, and
/// nowhere else (docs/reliability.md, "Sanitizers"). test_spm_tokenizer checks the message still says this.
constexpr const char* kShimRefusedUnderAsan =
    "in an AddressSanitizer build (it needs dlopen with RTLD_DEEPBIND, which ASan refuses)";
inline bool skipped_by_sanitizer(const std::string& what) {
#ifdef D2M_SANITIZED
    return what.find(kShimRefusedUnderAsan) != std::string::npos;
#else
    (void)what;
    return false;
#endif
}

inline void fail(const char* file, int line, const std::string& what) {
    ++failures();
    std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}

/// Directory of the shared data bundle: $D2M_SHARED_DIR, else ../shared beside the source tree.
inline std::string shared_dir() {
    if (const char* s = std::getenv("D2M_SHARED_DIR")) return s;
#ifdef D2M_SOURCE_DIR
    return std::string(D2M_SOURCE_DIR) + "/../shared";
#else
    return "../shared";
#endif
}

inline std::string source_dir() {
#ifdef D2M_SOURCE_DIR
    return D2M_SOURCE_DIR;
#else
    return ".";
#endif
}

/// Scratch directory for this test binary (created), under $D2M_TEST_TMP or /tmp.
std::string tmp_dir();

inline int run_all(int argc, char** argv) {
    std::string only = argc > 1 ? argv[1] : "";
    int ran = 0, skipped = 0;
    for (auto& c : cases()) {
        if (!only.empty() && only != c.name) continue;
        int before = failures();
        std::string skip_why;
        std::fprintf(stderr, "[ RUN  ] %s\n", c.name);
        try {
            c.fn();
        } catch (const Skipped& s) {
            skip_why = s.why;
        } catch (const std::exception& e) {
            if (skipped_by_sanitizer(e.what()))
                skip_why = e.what();
            else
                fail(__FILE__, __LINE__, std::string("uncaught exception in ") + c.name + ": " + e.what());
        }
        if (failures() != before) {
            std::fprintf(stderr, "[ FAIL ] %s\n", c.name);
        } else if (!skip_why.empty()) {
            std::fprintf(stderr, "[ SKIP ] %s: %s\n", c.name, skip_why.c_str());
            ++skipped;
        } else {
            std::fprintf(stderr, "[  OK  ] %s\n", c.name);
        }
        ++ran;
    }
    std::fprintf(stderr, "%d cases, %d skipped, %d checks, %d failures\n", ran, skipped, checks(), failures());
    if (ran == 0) { std::fprintf(stderr, "no test case matched\n"); return 1; }
    if (failures() == 0 && skipped == ran) return kSkipExit;
    const int rc = failures() > 100 ? 100 : failures();
    return rc == kSkipExit ? kSkipExit + 1 : rc;
}

}  // namespace d2m_test

#define D2M_CAT2(a, b) a##b
#define D2M_CAT(a, b) D2M_CAT2(a, b)
#define TEST(name)                                                              \
    static void name();                                                         \
    static d2m_test::Register D2M_CAT(reg_, name)(#name, name);                 \
    static void name()

#define D2M_TEST_MAIN() \
    int main(int argc, char** argv) { return d2m_test::run_all(argc, argv); }

// glog (pulled in by ATen) defines CHECK/CHECK_EQ as aborting asserts; ours count failures instead.
// Include this header after ATen.
#undef CHECK
#undef CHECK_EQ
#define CHECK(cond)                                                             \
    do { ++d2m_test::checks(); if (!(cond)) d2m_test::fail(__FILE__, __LINE__, #cond); } while (0)

#define CHECK_EQ(a, b)                                                          \
    do {                                                                        \
        ++d2m_test::checks();                                                   \
        auto _va = (a); auto _vb = (b);                                         \
        if (!(_va == _vb)) {                                                    \
            d2m_test::fail(__FILE__, __LINE__, std::string(#a " == " #b));      \
        }                                                                       \
    } while (0)

#define CHECK_CLOSE(a, b, tol)                                                  \
    do {                                                                        \
        ++d2m_test::checks();                                                   \
        double _va = double(a), _vb = double(b);                                \
        if (!(std::fabs(_va - _vb) <= (tol))) {                                 \
            d2m_test::fail(__FILE__, __LINE__, std::string(#a " ~= " #b ": ") + \
                std::to_string(_va) + " vs " + std::to_string(_vb) +            \
                " (tol " + std::to_string(double(tol)) + ")");                  \
        }                                                                       \
    } while (0)

/// Runs `stmt`, expects an exception whose what() contains `substr`.
#define CHECK_THROWS_WITH(stmt, substr)                                         \
    do {                                                                        \
        ++d2m_test::checks();                                                   \
        bool _thrown = false;                                                   \
        try { stmt; } catch (const std::exception& _e) {                        \
            _thrown = true;                                                     \
            std::string _w = _e.what();                                         \
            if (_w.find(substr) == std::string::npos)                           \
                d2m_test::fail(__FILE__, __LINE__, std::string("message of `" #stmt "` lacks \"") + \
                               (substr) + "\": " + _w);                         \
        }                                                                       \
        if (!_thrown) d2m_test::fail(__FILE__, __LINE__, "no exception from `" #stmt "`"); \
    } while (0)

#include <sys/stat.h>
#include <unistd.h>
inline std::string d2m_test::tmp_dir() {
    const char* base = std::getenv("D2M_TEST_TMP");
    std::string d = std::string(base ? base : "/tmp") + "/d2m_test_" + std::to_string(::getpid());
    ::mkdir(d.c_str(), 0755);
    return d;
}
