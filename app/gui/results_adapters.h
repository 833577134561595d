// EvalSummary (engine/eval/results.h, torch-free) → the plain ResultsData of the MTEB result tables
// (widgets/results_table.h). A run's label is its model name without the "den2moe/" prefix (the folder
// name when the summary has none), made unique with the folder name; a task's scores travel as given
// (NaN stays missing); zero-shot multiple-choice tasks are not counted in Mean(Task) / Mean(TaskType).
#pragma once

#include "results_table.h"

#include "eval/results.h"

#include <QString>
#include <QStringList>

#include <string>
#include <utility>
#include <vector>

namespace den2moe::ui {

/// `runs`: (source folder or file, its summary), in row order.
ResultsData resultsDataFrom(const std::vector<std::pair<std::string, den2moe::EvalSummary>>& runs);

/// Reads summary.json of each folder (or the file itself) with den2moe::read_summary. On a failure
/// `error` names the folder and nothing is returned.
bool loadResultsFolders(const QStringList& dirs, ResultsData* out, QString* error);

/// Appends `more`'s runs to `base` (tasks merged by name; labels kept unique).
void appendResults(ResultsData& base, const ResultsData& more);

}  // namespace den2moe::ui
