// Args: see args.h.
#include "args.h"

#include "core/error.h"
#include "core/settings.h"

namespace den2moe::frontend {

const std::set<std::string>& common_switches() {
    static const std::set<std::string> s = {"help", "quiet", "verbose", "version"};
    return s;
}

Args::Args(int argc, char** argv, int first, const std::set<std::string>& switches) {
    std::vector<std::string> words;
    for (int i = first; i < argc; ++i) words.emplace_back(argv[i]);
    parse(words, switches);
}

Args::Args(const std::vector<std::string>& words, const std::set<std::string>& switches) { parse(words, switches); }

void Args::parse(const std::vector<std::string>& words, const std::set<std::string>& switches) {
    auto is_switch = [&](const std::string& n) { return switches.count(n) || common_switches().count(n); };
    auto add = [&](const std::string& n, const std::string& v) {
        opts_.emplace(n, v);
        order_.emplace_back(n, v);
    };
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& a = words[i];
        if (a == "--") {  // everything after is positional
            for (++i; i < words.size(); ++i) pos_.push_back(words[i]);
            break;
        }
        if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
            std::string name = a.substr(2);
            const auto eq = name.find('=');
            if (eq != std::string::npos) {
                const std::string value = name.substr(eq + 1);
                name = name.substr(0, eq);
                add(name, value);
            } else if (is_switch(name) || (name.rfind("no-", 0) == 0 && is_switch(name.substr(3)))) {
                add(name, "");
            } else {
                D2M_CHECK(i + 1 < words.size(), InvalidInput, "option --", name, " needs a value",
                          Hint{"--" + name + " VALUE (see --help)"});
                // `--out --json`: the value is missing, not "--json" (--out=--json says it is meant)
                const std::string& next = words[i + 1];
                D2M_CHECK(!(next.size() > 2 && next.compare(0, 2, "--") == 0), InvalidInput, "option --", name,
                          " needs a value, found the option ", next,
                          Hint{"--" + name + "=" + next + " if the value really starts with --"});
                add(name, words[++i]);
            }
        } else if (a == "-h") {
            add("help", "");
        } else if (a.size() == 2 && a[0] == '-' && a[1] != '-' && !(a[1] >= '0' && a[1] <= '9')) {
            D2M_CHECK(i + 1 < words.size(), InvalidInput, "option ", a, " needs a value");
            const std::string& next = words[i + 1];
            D2M_CHECK(!(next.size() > 2 && next.compare(0, 2, "--") == 0), InvalidInput, "option ", a,
                      " needs a value, found the option ", next);
            add(std::string(1, a[1]), words[++i]);  // short option with a value: -n 200
        } else {
            pos_.push_back(a);
        }
    }
}

bool Args::has(const std::string& name) const { return opts_.count(name) > 0; }

std::string Args::get(const std::string& name, const std::string& def) const {
    std::string v = def;
    for (const auto& kv : order_) {
        if (kv.first == name) v = kv.second;
    }
    return v;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
    std::vector<std::string> v;
    for (const auto& kv : order_) {
        if (kv.first == name) v.push_back(kv.second);
    }
    return v;
}

namespace {
/// How the user wrote the option: "-n" for a short one, "--seq" for a long one.
std::string spelled(const std::string& name) { return (name.size() == 1 ? "-" : "--") + name; }
}  // namespace

long long Args::get_int(const std::string& name, long long def) const {
    return has(name) ? parse_int_text(get(name), spelled(name)) : def;
}

double Args::get_double(const std::string& name, double def) const {
    return has(name) ? parse_real_text(get(name), spelled(name)) : def;
}

void Args::allow(const std::vector<std::string>& known) const {
    for (const auto& kv : order_) {
        bool ok = kv.first == "help" || kv.first == "threads" || kv.first == "quiet" || kv.first == "verbose";
        for (const auto& k : known) ok = ok || k == kv.first;
        D2M_CHECK(ok, InvalidInput, "unknown option ", spelled(kv.first), Hint{"see --help"});
    }
}

}  // namespace den2moe::frontend
