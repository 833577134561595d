// The steps' command-line options and their mapping onto the project: see steps.h.
#include "steps.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"
#include "pipeline/conversion.h"

namespace den2moe::frontend {

std::vector<OptionInfo> field_options(const std::vector<FieldInfo>& fields) {
    std::vector<OptionInfo> out;
    for (const auto& f : fields) {
        OptionInfo o;
        o.flag = f.flag;
        switch (f.type) {
            case FieldType::Int: o.metavar = "N"; break;
            case FieldType::Real: o.metavar = "X"; break;
            case FieldType::Text: o.metavar = "TEXT"; break;
            case FieldType::Choice:
                for (const auto& c : f.choices) o.metavar += (o.metavar.empty() ? "" : "|") + c;
                break;
            case FieldType::Bool: o.is_switch = true; break;
        }
        o.help = f.help + " (default " + (f.default_text.empty() ? "none" : f.default_text);
        if ((f.type == FieldType::Int || f.type == FieldType::Real) && f.range_text() != "any value")
            o.help += "; " + f.range_text();
        o.help += ")";
        if (o.is_switch) o.help += "; --no-" + f.flag + " turns it off";
        out.push_back(o);
    }
    return out;
}

std::set<std::string> switches_of(const std::vector<OptionInfo>& options) {
    std::set<std::string> s;
    for (const auto& o : options) {
        if (o.is_switch) s.insert(o.flag);
    }
    return s;
}

std::vector<std::string> flags_of(const std::vector<OptionInfo>& options) {
    std::vector<std::string> v;
    for (const auto& o : options) {
        v.push_back(o.flag);
        if (o.is_switch) v.push_back("no-" + o.flag);
    }
    return v;
}

std::string options_help(const std::vector<OptionInfo>& options) {
    std::ostringstream os;
    for (const auto& o : options) {
        std::string lhs = "  --" + o.flag + (o.metavar.empty() ? "" : " " + o.metavar);
        os << lhs;
        if (lhs.size() < 32) os << std::string(32 - lhs.size(), ' ');
        else os << "\n" << std::string(32, ' ');
        os << o.help << "\n";
    }
    return os.str();
}

std::vector<OptionInfo> join_options(std::initializer_list<std::vector<OptionInfo>> lists) {
    std::vector<OptionInfo> out;
    std::set<std::string> seen;
    for (const auto& l : lists) {
        for (const auto& o : l) {
            if (seen.insert(o.flag).second) out.push_back(o);
        }
    }
    return out;
}

std::vector<OptionInfo> common_options() {
    return {{"threads", "N", "torch threads (default: $D2M_THREADS, else every core)", false},
            {"quiet", "", "no progress on stderr", true},
            {"verbose", "", "internal errors with their full text", true},
            {"help", "", "this text", true}};
}

std::vector<OptionInfo> project_options() {
    return {{"dtype", "bf16|fp32", "compute dtype of statistics and evaluation (default: the project's)", false},
            {"cache-dir", "DIR", "statistics and perplexity cache folder (default: the project's, else <project>/.den2moe-cache)",
             false}};
}

void apply_project_options(Project& p, const Args& a) {
    if (a.has("dtype")) p.dtype = a.get("dtype");  // checked with the project by validate_mining / _conversion_job
    if (a.has("cache-dir")) {
        const std::string dir = a.get("cache-dir");
        D2M_CHECK(!dir.empty(), InvalidInput, "--cache-dir needs a folder");
        // relative to the working directory, like every other path given on the command line
        p.cache_dir = std::filesystem::absolute(dir).lexically_normal().string();
    }
}

// ---------------------------------------------------------------------------------------------
// mining

std::vector<OptionInfo> mining_options() {
    return join_options({schema_options(calib_schema()), schema_options(eval_schema()),
                         schema_options(prune_schema()), schema_options(cluster_schema()), project_options(),
                         {{"domains", "a,b,c", "mine this subset of the project's domains (default: every enabled one)", false},
                          {"no-cache", "", "compute statistics and perplexity cells again (the cache is not read)", true}}});
}

MiningJob mining_job(Project project, const Args& a) {
    MiningJob job;
    apply_schema(calib_schema(), project.calib, a);
    apply_schema(eval_schema(), project.eval, a);
    apply_schema(prune_schema(), project.prune, a);
    apply_schema(cluster_schema(), project.cluster, a);
    apply_project_options(project, a);
    if (a.has("domains")) {
        std::stringstream ss(a.get("domains"));
        std::string item;
        while (std::getline(ss, item, ',')) {
            if (!item.empty()) job.options.only_domains.push_back(item);
        }
        D2M_CHECK(!job.options.only_domains.empty(), InvalidInput, "--domains needs a comma-separated list of domain names");
    }
    job.options.use_cache = !a.has("no-cache");
    validate_mining(project, job.options);
    const int64_t n = job.options.only_domains.empty() ? static_cast<int64_t>(project.domain_names().size())
                                                       : static_cast<int64_t>(job.options.only_domains.size());
    if (project.cluster.k > n) {
        job.warnings.push_back(str("the dendrogram is cut at ", n, " clusters: ", project.cluster.k,
                                   " (clustering.k) is more than the ", n, " domains mined"));
        project.cluster.k = n;
    }
    job.project = std::move(project);
    return job;
}

// ---------------------------------------------------------------------------------------------
// conversion

std::vector<OptionInfo> conversion_options() {
    return join_options({schema_options(convert_schema()), project_options(),
                         {{"clusters", "FILE", "a clusters.json (from `den2moe mine` / `cluster`); default: the project's saved clusters",
                           false},
                          {"out", "DIR", "output folder (default: <project cache>/experts/<recipe>)", false}}});
}

ConversionJob conversion_job(Project project, const Args& a) {
    ConversionJob job;
    ConvertSettings s = project.convert;
    if (a.has("recipe")) set_recipe(s, parse_recipe(a.get("recipe")));  // the recipe's own defaults first
    apply_schema(convert_schema(), s, a);
    apply_project_options(project, a);
    job.clusters = project.clusters;
    if (a.has("clusters")) {
        const std::string v = a.get("clusters");
        const bool is_k = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
        if (!is_k) job.clusters = read_clusters_file(v);
    }
    job.out_dir = a.has("out") ? a.get("out") : default_conversion_dir(project, s.recipe);
    job.settings = s;
    validate_conversion_job(project, job.clusters, s, job.out_dir);
    job.project = std::move(project);
    return job;
}

// ---------------------------------------------------------------------------------------------
// export

std::vector<OptionInfo> export_options() {
    return join_options({schema_options(export_schema()),
                         {{"out", "DIR", "output folder (replaced as a whole if it holds an earlier export)", false},
                          {"lint-only", "", "check only: print the linter's report, write nothing", true},
                          {"tokenizer", "PATH", "tokenizer to copy and to encode the bias probe with (default: the model's)",
                           false}}});
}

ExportSettings export_settings(ExportSettings base, const Args& a) {
    apply_schema(export_schema(), base, a);
    return base;
}

}  // namespace den2moe::frontend
