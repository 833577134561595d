// Shared by the libFuzzer targets in tests/fuzz/ and their seed replay (replay_main.cpp). A target is
// one function, LLVMFuzzerTestOneInput(data, size), that feeds outside input to one parser through
// its public entry point. The contract every parser must keep: it returns, or throws den2moe::Error
// (the house error that names the file and what was wrong). Anything else is a finding: another
// exception type escaping (an unnamed nlohmann/std error) aborts, as do crashes, leaks and hangs.
#pragma once

#include "core/error.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

namespace den2moe::fuzz {

/// A per-process scratch folder on tmpfs (else /tmp), removed at exit: parsers that take a path read the
/// input from here.
inline const std::string& scratch_dir() {
    // never destroyed, so the exit handler below can still read it
    static const std::string* const dir = [] {
        struct stat st {};
        std::string base = ::stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
        auto* d = new std::string(base + "/d2m-fuzz-" + std::to_string(::getpid()));
        ::mkdir(d->c_str(), 0700);
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(scratch_dir(), ec);
        });
        return d;
    }();
    return *dir;
}

/// Writes `bytes` to scratch_dir()/name and returns the path.
inline std::string write_scratch(const std::string& name, const std::string& bytes) {
    std::string path = scratch_dir() + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

/// Runs `f`; a den2moe::Error is the parser refusing the input (fine), any other exception aborts.
template <class F>
void expect_house_errors_only(F&& f) {
    try {
        f();
    } catch (const den2moe::Error&) {
    } catch (const std::exception& e) {
        std::fprintf(stderr, "FINDING: a non-house exception escaped the parser: %s\n", e.what());
        std::abort();
    }
}

}  // namespace den2moe::fuzz
