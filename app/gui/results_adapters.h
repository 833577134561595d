// EvalSummary (engine/eval/results.h, torch-free) → the plain ResultsData of the MTEB result tables
// (widgets/results_table.h). A run's label is its model name without the "den2moe/" prefix (the folder
// name when the summary has none), made unique with the folder name; a task's scores travel as given
// (NaN stays missing); zero-shot multiple-choice tasks are not counted in Mean(Task) / Mean(TaskType).
// A folder without summary.json is imported as result files of the Python `mteb` package by the engine
// (den2moe::import_mteb_results, MOEE-MTEB.md §B11), one run per revision folder.
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

/// Reads summary.json of each folder (or the file itself) with den2moe::read_summary; a folder without
/// one through importMtebFolder. On a failure `error` names the folder and nothing is returned.
bool loadResultsFolders(const QStringList& dirs, ResultsData* out, QString* error);

/// den2moe::import_mteb_results(dir) (engine/eval/results.h: one run per revision folder, labelled from
/// the model folder, types from the task registry, an unknown task typed "Other" and left out of the
/// means) as the tables' data. False (with the engine's reason) when a file is not valid JSON or none
/// is found.
bool importMtebFolder(const QString& dir, ResultsData* out, QString* error);

/// Appends `more`'s runs to `base` (tasks merged by name; labels kept unique).
void appendResults(ResultsData& base, const ResultsData& more);

}  // namespace den2moe::ui
