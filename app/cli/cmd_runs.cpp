// CLI `runs`: the runs of a project (engine/project/runs.h), as the app's Runs tab lists them: every
// model folder the project produced (conversion, training stage, export) and the evaluations of those
// models, with the lineage read from each folder's provenance. Rename and delete do what the tab's
// buttons do: a rename is a label recorded in the project's run index (the folder stays), a delete
// removes a run's folder only with --yes, after naming the runs made from it.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "cli.h"
#include "core/error.h"
#include "core/json_text.h"
#include "project/project.h"
#include "project/runs.h"
#include "runs_text.h"

namespace den2moe::cli {

using nlohmann::json;

std::vector<frontend::OptionInfo> runs_options() {
    return {{"json", "", "print the runs as JSON (one object per run: path, kind, label, parent, lineage, ...)", true},
            {"out", "FILE", "also write the JSON to FILE", false},
            {"rename", "DIR", "give the run in DIR the name --label (recorded in the run index; the folder stays)", false},
            {"label", "NAME", "the name of --rename (an empty NAME restores the folder's name)", false},
            {"delete", "DIR", "delete the run in DIR (its whole folder); needs --yes", false},
            {"yes", "", "confirm --delete (without it, only say what would be deleted and exit 1)", true}};
}

namespace {

json run_json(const ProjectRun& r, const std::vector<ProjectRun>& all) {
    const frontend::RunText t = frontend::run_text(r, all);
    auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
    json children = json::array();
    for (const ProjectRun* c : runs_made_from(all, r.path)) children.push_back(c->path);
    json clusters = json::array();
    for (size_t i = 0; i < r.clusters.members.size(); ++i) {
        clusters.push_back({{"name", i < r.clusters.names.size() ? r.clusters.names[i] : std::string()},
                            {"domains", r.clusters.members[i]}});
    }
    return {{"path", r.path},
            {"kind", r.kind},
            {"label", r.label},
            {"created", r.created},
            {"client", r.client},
            {"parent", r.parent},
            {"made_from", t.made_from},
            {"source_model", r.source_model},
            {"lineage", t.lineage},
            {"recipe", r.recipe},
            {"n_experts", r.n_experts},
            {"top_k", r.top_k},
            {"clusters", clusters},
            {"stages", r.stages},
            {"format", r.format},
            {"ppl_before", num(r.ppl_before)},
            {"ppl_after", num(r.ppl_after)},
            {"train_steps", r.train_steps},
            {"train_tokens", r.train_tokens},
            {"evaluations", r.evaluations},
            {"results", t.results},
            {"made_into", children}};
}

/// Display width of UTF-8 text (code points; the table's words are Latin plus arrows and dashes).
size_t width(const std::string& s) {
    return size_t(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void print_table(const std::vector<ProjectRun>& runs) {
    const std::vector<std::string> head = {"RUN", "KIND", "MADE FROM", "LINEAGE", "RESULTS"};
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : runs) {
        const frontend::RunText t = frontend::run_text(r, runs);
        std::string results;
        for (const auto& x : t.results) results += (results.empty() ? "" : "; ") + x;
        rows.push_back({t.label, t.kind, t.made_from, t.lineage, results});
    }
    std::vector<size_t> w(head.size());
    for (size_t c = 0; c < head.size(); ++c) {
        w[c] = width(head[c]);
        for (const auto& row : rows) w[c] = std::max(w[c], width(row[c]));
    }
    auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (size_t c = 0; c < cells.size(); ++c) {
            out += cells[c];
            if (c + 1 < cells.size()) out += std::string(w[c] - width(cells[c]) + 2, ' ');
        }
        std::printf("%s\n", out.c_str());
    };
    line(head);
    for (size_t i = 0; i < rows.size(); ++i) {
        line(rows[i]);
        std::printf("    %s\n", runs[i].path.c_str());
    }
}

}  // namespace

int cmd_runs(const Args& a, RunContext&) {
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "runs: expected one PROJECT argument, got ",
              a.positionals().size(), Hint{"den2moe runs PROJECT [--json]"});
    const bool rename = a.has("rename"), del = a.has("delete");
    D2M_CHECK(!(rename && del), InvalidInput, "runs: --rename and --delete exclude each other",
              Hint{"one change per call"});
    D2M_CHECK(!rename || a.has("label"), InvalidInput, "runs: --rename DIR needs --label NAME",
              Hint{"--label \"\" restores the folder's name"});
    D2M_CHECK(rename || !a.has("label"), InvalidInput, "runs: --label belongs to --rename DIR");
    D2M_CHECK(del || !a.has("yes"), InvalidInput, "runs: --yes confirms --delete DIR; there is nothing to confirm");
    D2M_CHECK(!(rename || del) || !(a.has("json") || a.has("out")), InvalidInput,
              "runs: --json / --out list the runs; they do not go with --rename or --delete",
              Hint{"list afterwards: den2moe runs PROJECT --json"});
    const Project project = load_project(a.positionals()[0]);
    D2M_CHECK(!project.file.empty(), InvalidInput, "runs: project ", a.positionals()[0], " has no file",
              Hint{"give a saved *.den2moe.json"});

    if (rename) {
        const std::string dir = a.get("rename");
        const auto runs = list_project_runs(project);
        D2M_CHECK(find_run(runs, dir) != nullptr, InvalidInput, "runs --rename ", dir, ": not a run of project ",
                  project.file, Hint{"den2moe runs " + a.positionals()[0] + " lists them"});
        rename_run(project, dir, a.get("label"));
        const std::string label = a.get("label");
        std::printf("renamed %s to '%s'\n", find_run(runs, dir)->path.c_str(),
                    label.empty() ? "(its folder's name)" : label.c_str());
        return kOk;
    }
    if (del) {
        const std::string dir = a.get("delete");
        const auto runs = list_project_runs(project);
        const ProjectRun* r = find_run(runs, dir);
        D2M_CHECK(r != nullptr, InvalidInput, "runs --delete ", dir, ": not a run of project ", project.file,
                  Hint{"only folders listed by `den2moe runs " + a.positionals()[0] + "` are deleted"});
        const auto children = runs_made_from(runs, r->path);
        for (const ProjectRun* c : children)
            std::fprintf(stderr, "note: the %s run '%s' (%s) was made from it and loses its source\n", c->kind.c_str(),
                         c->label.c_str(), c->path.c_str());
        if (!a.has("yes")) {
            std::fprintf(stderr, "error: runs --delete %s: not deleted without --yes (the %s run '%s', its whole folder)\n"
                                 "hint: add --yes to delete it\n",
                         r->path.c_str(), r->kind.c_str(), r->label.c_str());
            return kUserError;
        }
        const std::string path = r->path, kind = r->kind, label = r->label;
        delete_run(project, path);
        std::printf("deleted the %s run '%s' (%s)\n", kind.c_str(), label.c_str(), path.c_str());
        return kOk;
    }
    const auto runs = list_project_runs(project);
    if (a.has("json") || a.has("out")) {
        json doc = {{"project", project.file}, {"index", run_index_path(project)}, {"runs", json::array()}};
        for (const auto& r : runs) doc["runs"].push_back(run_json(r, runs));
        emit_json_text(a, dump_json(doc, 1) + "\n");
        if (a.has("json")) return kOk;
    }
    if (runs.empty()) {
        std::printf("no runs yet in %s (index %s)\n", project.file.c_str(), run_index_path(project).c_str());
        return kOk;
    }
    print_table(runs);
    return kOk;
}

}  // namespace den2moe::cli
