// EvalSummary (engine/eval/results.h, torch-free) → the plain ResultsData of the MTEB result tables
// (widgets/results_table.h). A run's label is its model name without the "den2moe/" prefix (the folder
// name when the summary has none), made unique with the folder name; a task's scores travel as given
// (NaN stays missing); zero-shot multiple-choice tasks are not counted in Mean(Task) / Mean(TaskType).
// A folder without summary.json is imported as result files of the Python `mteb` package (1.11+ / 2.x,
// MOEE-MTEB.md §B11: <root>/<model>/<revision>/<Task>.json), one run per revision folder.
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

/// Imports every `mteb` task file (a JSON object with "task_name" and "scores") under `dir`, at any
/// depth, as one run per folder holding them, labelled "<model>" from the model folder ("__" → "/"),
/// with "@<revision>" when one model has several revisions here. The score of a task is the main_score
/// of split "test" (else the first split), subset "default" (else "en", else "en-en", else the mean of
/// its subsets). Types come from the task registry; a task unknown to it is typed "Other" and left out
/// of the means. False (with the reason) when a file is not valid JSON or none is found.
bool importMtebFolder(const QString& dir, ResultsData* out, QString* error);

/// Appends `more`'s runs to `base` (tasks merged by name; labels kept unique).
void appendResults(ResultsData& base, const ResultsData& more);

}  // namespace den2moe::ui
