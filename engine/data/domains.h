// Evaluation/calibration domains on disk: a name and the files of one split. Resolves what a user
// passes on the command line or in a project: a data file, a domain folder holding
// <split>.jsonl(.gz)/.txt, or a root holding domains.json (or domain folders).
#pragma once

#include <string>
#include <vector>

namespace den2moe {

struct EvalDomain {
    std::string name;
    std::vector<std::string> files;
};

/// Throws Error(InvalidInput) naming the path when nothing usable is found there.
std::vector<EvalDomain> resolve_eval_domains(const std::vector<std::string>& paths,
                                             const std::string& split = "test");

/// The split file inside a domain folder ("" if none): <split>.jsonl.gz, .jsonl, .txt.gz, .txt, .csv.
std::string find_split_file(const std::string& dir, const std::string& split);

}  // namespace den2moe
