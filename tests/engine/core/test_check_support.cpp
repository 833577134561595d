// The test support's verdicts (tests/support/check.h), through this program run again as a child on one case:
// a skipped case is not a failure; a program whose every case was skipped exits 77 (CTest SKIP_RETURN_CODE);
// a program with a skipped and a passing case exits 0; 77 failed checks never read as a skip; and the
// sentencepiece shim's refusal becomes a skip in a sanitized build only. The helper cases act only in the
// child (D2M_CHECK_CHILD names what to do); in the normal run they pass without a check.
#include "support/check.h"

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <sys/wait.h>

namespace {

bool child(const char* what) {
    const char* c = std::getenv("D2M_CHECK_CHILD");
    return c && std::string(c) == what;
}

/// Exit code of this program run on `args` with D2M_CHECK_CHILD=`what`; its output (with the failures it is
/// asked to make) goes to <tmp>/child-<what>.log, not into this test's log.
int run_child(const std::string& what, const std::string& args) {
    const std::string log = d2m_test::tmp_dir() + "/child-" + what + ".log";
    const std::string cmd = "D2M_CHECK_CHILD=" + what + " /proc/" + std::to_string(::getpid()) + "/exe " + args +
                            " > '" + log + "' 2>&1";
    std::fprintf(stderr, "  child %s %s: %s\n", what.c_str(), args.c_str(), log.c_str());
    const int st = std::system(cmd.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

TEST(helper_skips) {
    if (child("skip") || child("skip-one")) d2m_test::skip("asked to");
}

TEST(helper_fails_then_skips) {
    if (!child("fail-then-skip")) return;
    CHECK(1 + 1 == 3);
    d2m_test::skip("a skip after a failed check is a failure");
}

TEST(helper_fails_77_checks) {
    if (!child("fail-77")) return;
    for (int i = 0; i < 77; ++i) CHECK(i < 0);
}

TEST(helper_shim_refused) {
    if (!child("refused")) return;
    throw std::runtime_error(std::string("cannot load the sentencepiece shim /x/libspm_shim.so ") +
                             d2m_test::kShimRefusedUnderAsan);
}

TEST(helper_other_exception) {
    if (!child("other")) return;
    throw std::runtime_error("cannot load the sentencepiece shim /x/libspm_shim.so: no such file");
}

TEST(exit_codes) {
    if (std::getenv("D2M_CHECK_CHILD")) return;
    CHECK_EQ(run_child("skip", "helper_skips"), d2m_test::kSkipExit);             // the only case ran skipped
    CHECK_EQ(run_child("skip-one", ""), 0);                                       // skipped beside passing cases
    CHECK_EQ(run_child("fail-then-skip", "helper_fails_then_skips"), 1);          // a failed check stays failed
    CHECK_EQ(run_child("fail-77", "helper_fails_77_checks"), d2m_test::kSkipExit + 1);  // never reads as a skip
    CHECK_EQ(run_child("other", "helper_other_exception"), 1);                    // any other exception fails
#ifdef D2M_SANITIZED
    CHECK_EQ(run_child("refused", "helper_shim_refused"), d2m_test::kSkipExit);
#else
    CHECK_EQ(run_child("refused", "helper_shim_refused"), 1);  // a normal build never skips on the refusal
#endif
    CHECK_EQ(run_child("none", "no_such_case"), 1);
}

D2M_TEST_MAIN()
