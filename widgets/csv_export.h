// CSV for the matrices and the cluster assignment (RFC 4180: comma separated, CRLF-free "\n" lines,
// fields with a comma, quote, CR or LF quoted with doubled quotes). Numbers use the shortest text
// that reads back to the same double; NaN is an empty field. The *Csv functions are pure; write*
// save a file.
#pragma once

#include "view_data.h"

#include <QString>
#include <QVector>

namespace den2moe::ui {

/// One CSV field, quoted only when it needs to be.
QString csvField(const QString& text);

/// Header row "domain,<label 1>,...,<label n>", then one row per domain in `order` (empty = project
/// order) with its values in the same column order. Empty when the matrix of that kind is missing.
QString matrixCsv(const MatrixViewData& data, MatrixKind kind, const QVector<int>& order = {});

/// "index,domain,cluster_id,cluster,manual": one row per domain in project order; cluster_id is
/// 1-based (empty for an unassigned domain).
QString clustersCsv(const QStringList& labels, const ClusterAssignment& clusters);

/// Writes `text` to `path` (UTF-8, through a temporary file and a rename). Sets `error` on failure.
bool writeTextFile(const QString& path, const QString& text, QString* error = nullptr);

}  // namespace den2moe::ui
