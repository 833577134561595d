// validate_task_eval: the cross-field, model and data rules of task evaluation (eval/task_settings.h).
#include "eval/task_settings.h"

#include "core/error.h"
#include "eval/task_registry.h"

namespace den2moe {

void validate_task_eval(const TaskEvalSettings& s, const EvalModelCaps& caps, const std::string& shared_dir) {
    task_eval_schema().check(s, "task_eval.");
    const std::vector<const TaskInfo*> tasks = resolve_tasks(s.tasks);
    D2M_CHECK(s.instruction == "gritlm" || s.instruction_text.empty(), InvalidInput,
              "--instruction-text is set but --instruction is '", s.instruction, "'",
              Hint{"use --instruction gritlm with --instruction-text, or drop the text"});
    bool any_embedding = false;
    for (const TaskInfo* t : tasks) any_embedding = any_embedding || t->is_embedding();
    if (!caps.path.empty() && any_embedding && s.embedding != "hs") {
        D2M_CHECK(caps.has_routers(), InvalidInput, "--embedding ", s.embedding, " needs routing weights (RW), but ",
                  caps.path, " is a dense model: none of its ", caps.n_layers, " layers has a router",
                  Hint{"RW and MoEE need an MoE model (a converted folder or a Mixtral / Qwen2-MoE checkpoint); a "
                       "dense model offers --embedding hs only"});
    }
    for (const TaskInfo* t : tasks) check_task_files(*t, shared_dir);
}

}  // namespace den2moe
