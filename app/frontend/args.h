// The command line of both front ends (`den2moe` and `den2moe-studio`'s headless form): strict
// `--name value` / `--name=value` / `--switch` / `-x value` parsing. Which options are switches is
// declared, never guessed, so a switch never swallows the next word and an option given last without
// its value is an error instead of the value "1". Torch-free and Qt-free.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace den2moe::frontend {

class Args {
public:
    Args() = default;
    /// `argv[first..argc)`; `switches`: the option names (without dashes) that take no value.
    /// Throws Error(InvalidInput) naming the option when a value is missing.
    Args(int argc, char** argv, int first, const std::set<std::string>& switches);
    Args(const std::vector<std::string>& words, const std::set<std::string>& switches);

    const std::vector<std::string>& positionals() const { return pos_; }
    bool has(const std::string& name) const;
    std::string get(const std::string& name, const std::string& def = {}) const;  ///< the last value given
    std::vector<std::string> get_all(const std::string& name) const;
    /// Whole-string integer / number (no overflow, no junk); `def` when absent.
    long long get_int(const std::string& name, long long def) const;
    double get_double(const std::string& name, double def) const;
    /// Throw Error(InvalidInput) for an option outside `known` (names without dashes); the options
    /// every command takes (help, threads, quiet, verbose) are always known.
    void allow(const std::vector<std::string>& known) const;
    bool help() const { return has("help"); }
    /// Every option given, in order (name, value; "" for a switch).
    const std::vector<std::pair<std::string, std::string>>& options() const { return order_; }

private:
    void parse(const std::vector<std::string>& words, const std::set<std::string>& switches);
    std::vector<std::string> pos_;
    std::multimap<std::string, std::string> opts_;
    std::vector<std::pair<std::string, std::string>> order_;
};

/// The options every command accepts: help, quiet, verbose (switches), threads (a value).
const std::set<std::string>& common_switches();

}  // namespace den2moe::frontend
