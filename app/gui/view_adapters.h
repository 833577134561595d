// Engine → view adapters: the one place where the engine's plain structs (MiningResult,
// ProjectClusters) meet the widgets' view data (MatrixViewData, DendrogramData, ClusterAssignment).
// Pure functions, no widgets.
#pragma once

#include "mining/mining.h"
#include "project/project.h"
#include "view_data.h"

#include <QStringList>
#include <QVector>

namespace den2moe::ui {

QStringList domainLabels(const den2moe::MiningResult& r);

/// Raw PPL, normalised and correlation matrices (row-major, project order), with axis titles.
MatrixViewData matrixViewData(const den2moe::MiningResult& r);

/// The linkage as DendrogramData (ids, heights and sizes as in scipy's Z).
DendrogramData dendrogramData(const den2moe::MiningResult& r);

/// The engine's leaf order as view indices.
QVector<int> leafOrder(const den2moe::MiningResult& r);

/// The cut height the dendrogram view places for k clusters, and the K a height cut gives.
double cutHeightForK(const den2moe::MiningResult& r, int k, int* actualK = nullptr);
int kForCutHeight(const den2moe::MiningResult& r, double height);

/// Flat clusters at a cut (K or height), numbered top to bottom along the leaf order, C1..Ck.
ClusterAssignment assignmentForK(const den2moe::MiningResult& r, int k);
ClusterAssignment assignmentAtCut(const den2moe::MiningResult& r, double height);

/// A project's saved clusters over `labels` (domains not named in the project stay unassigned, -1;
/// names not in `labels` are ignored). Every cluster is marked manual when the project's is.
ClusterAssignment assignmentFromProject(const den2moe::ProjectClusters& clusters,
                                        const QStringList& labels);
/// The assignment as project clusters (empty clusters are dropped).
den2moe::ProjectClusters projectClusters(const ClusterAssignment& a, const QStringList& labels,
                                         bool manual);

}  // namespace den2moe::ui
