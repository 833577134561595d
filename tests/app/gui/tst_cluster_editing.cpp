// Cluster editing: the pure edits, the tree model (rows, drag and drop as a request), undo/redo of a
// move / new-cluster / merge / rename sequence restoring identical assignments, a dendrogram cut
// replacing a manual assignment (undoable), downstream steps turning stale, and the project
// save/load round trip of a manual assignment through the window.
#include "affinity_view.h"
#include "app_test_support.h"
#include "cluster_commands.h"
#include "cluster_model.h"
#include "cluster_panel.h"
#include "dendrogram_view.h"
#include "heatmap_view.h"
#include "main_window.h"
#include "pipeline_panel.h"
#include "project_panel.h"
#include "view_adapters.h"

#include <QAction>
#include <QMenu>
#include <QMimeData>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTreeView>
#include <QUndoStack>
#include <QtTest>

using namespace den2moe::ui;

namespace {

ClusterAssignment sixInThree() {
    ClusterAssignment a;
    a.labelOfLeaf = {0, 0, 1, 1, 2, 2};
    a.clusterNames = {"C1", "C2", "C3"};
    return a;
}

MiningResultPtr handMade() {
    return std::make_shared<const den2moe::MiningResult>(d2mtest::handMadeResult());
}

/// A project over the hand-made result's domains a..d (folders need not exist here).
den2moe::Project handMadeProject() {
    den2moe::Project p;
    p.cluster.k = 2;
    p.domains = {{"a", "/x/a"}, {"b", "/x/b"}, {"c", "/x/c"}, {"d", "/x/d"}};
    return p;
}

}  // namespace

class TestClusterEditing : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("Den2MoE-test"));
    }

    void pureEdits() {
        const ClusterAssignment a = sixInThree();
        const ClusterAssignment m = moveLeaves(a, {0}, 2);
        QCOMPARE(m.labelOfLeaf, (QVector<int>{2, 0, 1, 1, 2, 2}));
        QCOMPARE(m.manual, (QVector<bool>{true, false, true}));
        QCOMPARE(m.colors.size(), 3);
        // Emptying a cluster drops it and renumbers, names and colours follow their clusters.
        const ClusterAssignment e = moveLeaves(m, {1}, 1);
        QCOMPARE(e.clusterNames, (QStringList{"C2", "C3"}));
        QCOMPARE(e.labelOfLeaf, (QVector<int>{1, 0, 0, 0, 1, 1}));
        QCOMPARE(e.colors[0], m.colors[1]);
        const ClusterAssignment n = addCluster(a, {1, 3});
        QCOMPARE(n.clusterCount(), 4);
        QCOMPARE(n.clusterNames.last(), QStringLiteral("C4"));
        QCOMPARE(n.labelOfLeaf, (QVector<int>{0, 3, 1, 3, 2, 2}));
        const ClusterAssignment g = mergeClusters(a, {2, 0});
        QCOMPARE(g.labelOfLeaf, (QVector<int>{0, 0, 1, 1, 0, 0}));
        QCOMPARE(g.clusterNames, (QStringList{"C1", "C2"}));
        QCOMPARE(renameCluster(a, 1, QStringLiteral(" math ")).clusterNames[1], QStringLiteral("math"));
        // No-ops stay no-ops.
        QCOMPARE(moveLeaves(a, {0}, 0).labelOfLeaf, a.labelOfLeaf);
        QCOMPARE(moveLeaves(a, {0}, 7).labelOfLeaf, a.labelOfLeaf);
        QCOMPARE(mergeClusters(a, {1}).clusterCount(), 3);
    }

    void treeModelAndDrop() {
        ClusterModel model;
        model.setLabels({"a", "b", "c", "d", "e", "f"});
        model.setDisplayOrder({5, 4, 3, 2, 1, 0});
        model.setState(ClusterState{sixInThree(), 0.5});
        QCOMPARE(model.rowCount(), 3);
        const QModelIndex c2 = model.index(1, 0);
        QCOMPARE(model.rowCount(c2), 2);
        QCOMPARE(model.index(0, 0, c2).data().toString(), QStringLiteral("d"));  // display order
        QCOMPARE(model.index(0, 0, c2).data(ClusterModel::LeafRole).toInt(), 3);
        QCOMPARE(model.parent(model.index(0, 0, c2)), c2);
        QVERIFY(model.flags(model.index(0, 0, c2)) & Qt::ItemIsDragEnabled);
        QVERIFY(model.flags(c2) & Qt::ItemIsDropEnabled);
        QCOMPARE(model.leavesFor({c2}), (QVector<int>{2, 3}));
        QCOMPARE(model.leafIndex(4).parent().row(), 2);
        // Drag "a" onto C3: the model does not change, it asks for a move.
        QSignalSpy move(&model, &ClusterModel::moveRequested);
        std::unique_ptr<QMimeData> mime(model.mimeData({model.leafIndex(0)}));
        QVERIFY(mime);
        QVERIFY(model.canDropMimeData(mime.get(), Qt::MoveAction, -1, 0, model.index(2, 0)));
        QVERIFY(!model.dropMimeData(mime.get(), Qt::MoveAction, -1, 0, model.index(2, 0)));
        QVERIFY(move.wait(1000));
        QCOMPARE(move.first().at(0).value<QVector<int>>(), (QVector<int>{0}));
        QCOMPARE(move.first().at(1).toInt(), 2);
        QCOMPARE(model.assignment().labelOfLeaf, sixInThree().labelOfLeaf);
    }

    void undoRedoRestoresIdenticalAssignments() {
        ClusterModel model;
        model.setLabels({"a", "b", "c", "d", "e", "f"});
        const ClusterState s0{sixInThree(), 0.5};
        model.setState(s0);
        QUndoStack stack;
        QVector<ClusterState> states{model.state()};
        stack.push(new MoveDomainsCommand(&model, {0}, 2));
        states << model.state();
        stack.push(new NewClusterCommand(&model, {2, 4}));
        states << model.state();
        stack.push(new MergeClustersCommand(&model, {0, 1}));
        states << model.state();
        stack.push(new RenameClusterCommand(&model, 0, QStringLiteral("mixed")));
        states << model.state();
        // What the sequence did.
        QCOMPARE(states[1].assignment.labelOfLeaf, (QVector<int>{2, 0, 1, 1, 2, 2}));
        QCOMPARE(states[2].assignment.labelOfLeaf, (QVector<int>{2, 0, 3, 1, 3, 2}));
        QCOMPARE(states[3].assignment.labelOfLeaf, (QVector<int>{1, 0, 2, 0, 2, 1}));
        QCOMPARE(states[4].assignment.clusterNames, (QStringList{"mixed", "C3", "C4"}));
        QVERIFY(states[4].isManual());
        QVERIFY(std::isnan(states[4].cutHeight));
        QVERIFY(!states[0].isManual());
        for (int i = 4; i > 0; --i) {
            stack.undo();
            QVERIFY2(model.state() == states[i - 1], qPrintable(QString::number(i)));
        }
        QCOMPARE(model.state().cutHeight, 0.5);
        for (int i = 1; i <= 4; ++i) {
            stack.redo();
            QVERIFY2(model.state() == states[i], qPrintable(QString::number(i)));
        }
        QCOMPARE(stack.count(), 4);
        QVERIFY(stack.undoText().contains(QLatin1String("Rename")));
    }

    void cutCommandsMergeWhileDragging() {
        ClusterModel model;
        model.setLabels({"a", "b", "c", "d"});
        const den2moe::MiningResult r = d2mtest::handMadeResult();
        model.setState(ClusterState{assignmentForK(r, 2), cutHeightForK(r, 2)});
        QUndoStack stack;
        stack.push(new CutClustersCommand(&model, assignmentAtCut(r, 0.3), 0.3));
        stack.push(new CutClustersCommand(&model, assignmentAtCut(r, 0.05), 0.05));  // same drag
        QCOMPARE(stack.count(), 1);
        QCOMPARE(model.assignment().clusterCount(), 4);
        stack.undo();
        QCOMPARE(model.assignment().clusterCount(), 2);
        QCOMPARE(model.state().cutHeight, cutHeightForK(r, 2));
    }

    void windowEditsCutsAndStaleness() {
        MainWindow w;
        w.setInteractive(false);
        w.setProject(handMadeProject(), false);
        w.setMiningResult(handMade());
        QVERIFY(!w.isModified());
        QCOMPARE(w.clusterModel()->assignment().labelOfLeaf, (QVector<int>{1, 1, 0, 1}));
        QCOMPARE(w.pipeline()->state(PipelineStep::Clusters), StepState::Done);
        QCOMPARE(w.affinityView()->dendrogram()->k(), 2);
        // Downstream steps: pretend Experts was built, then edit the clusters.
        w.pipeline()->setState(PipelineStep::Experts, StepState::Done);
        w.moveDomains({0}, 0);  // a joins c
        QCOMPARE(w.clusterModel()->assignment().labelOfLeaf, (QVector<int>{0, 1, 0, 1}));
        QCOMPARE(w.pipeline()->state(PipelineStep::Experts), StepState::Stale);
        QVERIFY(w.pipeline()->isAvailable(PipelineStep::Experts));
        QVERIFY(w.pipeline()->isAvailable(PipelineStep::Training));  // issue 18: Training and Evaluation exist
        QVERIFY(w.pipeline()->itemText(PipelineStep::Training).contains(QLatin1String("not run")));
        QVERIFY(w.isModified());
        QVERIFY(w.project().clusters.manual);
        QCOMPARE(w.project().clusters.members,
                 (std::vector<std::vector<std::string>>{{"a", "c"}, {"b", "d"}}));
        // The heatmap shows the manual assignment (and says so in its tooltip).
        QCOMPARE(w.affinityView()->heatmap()->clusterAssignment().labelOfLeaf, (QVector<int>{0, 1, 0, 1}));
        // Moving K replaces the manual assignment, as one undoable step.
        const int before = w.undoStack()->count();
        w.affinityView()->dendrogram()->setK(3);
        QCOMPARE(w.undoStack()->count(), before + 1);
        QCOMPARE(w.clusterModel()->assignment().clusterCount(), 3);
        QVERIFY(!w.project().clusters.manual);
        QCOMPARE(w.project().cluster.k, 3);
        w.undoStack()->undo();
        QCOMPARE(w.clusterModel()->assignment().labelOfLeaf, (QVector<int>{0, 1, 0, 1}));
        QVERIFY(w.project().clusters.manual);
        // Undo of the cut also put the line back? The manual state has no cut: the line stays; the
        // next undo (back to the original cut at K=2) moves it.
        w.undoStack()->undo();
        QCOMPARE(w.affinityView()->dendrogram()->k(), 2);
        QCOMPARE(w.clusterModel()->assignment().labelOfLeaf, (QVector<int>{1, 1, 0, 1}));
        // The conversion action runs the Experts step with the current clusters.
        QVERIFY(w.conversionAction()->isEnabled());
        QVERIFY(!w.conversionAction()->toolTip().contains(QLatin1String("not available")));
        QVERIFY(w.findChildren<QAction*>().contains(w.conversionAction()));
    }

    void miningTurnsStale() {
        MainWindow w;
        w.setInteractive(false);
        // Project defaults: 128 x 256 calibration, 32 x 256 evaluation, bf16, ratio 0.5.
        w.setProject(handMadeProject(), false);
        den2moe::MiningResult r = d2mtest::handMadeResult();
        r.calib_samples = 128;
        r.calib_seq = 256;
        r.eval_windows = 32;
        r.eval_seq = 256;
        r.dtype = "bf16";
        r.ratio = 0.5;
        r.structure = "uniform";
        r.metric = "wifv";
        w.setMiningResult(std::make_shared<const den2moe::MiningResult>(r));
        QCOMPARE(w.pipeline()->state(PipelineStep::Mining), StepState::Done);
        QCOMPARE(w.pipeline()->state(PipelineStep::Clusters), StepState::Done);
        // Other settings than the result's: stale, and so are the clusters.
        r.calib_samples = 64;
        w.setMiningResult(std::make_shared<const den2moe::MiningResult>(r));
        QCOMPARE(w.pipeline()->state(PipelineStep::Mining), StepState::Stale);
        QCOMPARE(w.pipeline()->state(PipelineStep::Clusters), StepState::Stale);
        // Editing a setting in the picker panel makes a current result stale.
        r.calib_samples = 128;
        w.setMiningResult(std::make_shared<const den2moe::MiningResult>(r));
        QCOMPARE(w.pipeline()->state(PipelineStep::Mining), StepState::Done);
        const auto spins = w.projectPanel()->findChildren<QSpinBox*>();
        QVERIFY(!spins.isEmpty());
        spins.first()->setValue(spins.first()->value() + 16);
        QCOMPARE(w.pipeline()->state(PipelineStep::Mining), StepState::Stale);
        QCOMPARE(w.pipeline()->state(PipelineStep::Clusters), StepState::Stale);
        QVERIFY(w.isModified());
        QCOMPARE(w.project().calib.n_samples, int64_t(144));
        // The domain folders do not exist: the picker says so before any run.
        QVERIFY(!w.projectPanel()->validationMessages().isEmpty());
        QCOMPARE(w.pipeline()->state(PipelineStep::Domains), StepState::Invalid);
    }

    void contextMenuRequestsEdits() {
        MainWindow w;
        w.setInteractive(false);
        w.setProject(handMadeProject(), false);
        w.setMiningResult(handMade());
        ClusterPanel* panel = w.clusterPanel();
        panel->setSelectedLeaves({1, 3});
        QCOMPARE(panel->selectedLeaves(), (QVector<int>{1, 3}));
        std::unique_ptr<QMenu> menu(panel->buildContextMenu(nullptr));
        QAction* newCluster = nullptr;
        for (QAction* a : menu->actions()) {
            if (a->text().startsWith(QLatin1String("New cluster"))) {
                newCluster = a;
            }
        }
        QVERIFY(newCluster && newCluster->isEnabled());
        newCluster->trigger();
        QCOMPARE(w.clusterModel()->assignment().clusterCount(), 3);
        QCOMPARE(w.clusterModel()->assignment().labelOfLeaf, (QVector<int>{1, 2, 0, 2}));
        // Linked selection: the cluster list selection reaches the heatmap and the dendrogram.
        panel->setSelectedLeaves({});
        QSignalSpy sel(panel, &ClusterPanel::selectionChanged);
        panel->view()->selectionModel()->select(w.clusterModel()->clusterIndex(2),
                                                QItemSelectionModel::ClearAndSelect);
        QCOMPARE(sel.count(), 1);
        QCOMPARE(w.affinityView()->heatmap()->selectedLeaves(), (QVector<int>{1, 3}));
        QCOMPARE(w.affinityView()->dendrogram()->selectedLeaves(), (QVector<int>{1, 3}));
        // and back: a heatmap selection selects the domains in the list.
        w.affinityView()->heatmap()->setSelectedLeaves({0});
        QCOMPARE(panel->selectedLeaves(), (QVector<int>{0}));
    }

    void manualAssignmentSurvivesSaveAndLoad() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("p.den2moe.json"));
        std::vector<std::vector<std::string>> members;
        {
            MainWindow w;
            w.setInteractive(false);
            w.setProject(handMadeProject(), false);
            w.setMiningResult(handMade());
            w.newCluster({3});
            w.renameCluster(2, QStringLiteral("delta"));
            members = w.project().clusters.members;
            QString error;
            QVERIFY2(w.saveProject(path, &error), qPrintable(error));
            QVERIFY(!w.isModified());
        }
        const den2moe::Project loaded = den2moe::load_project(path.toStdString());
        QVERIFY(loaded.clusters.manual);
        QCOMPARE(loaded.clusters.members, members);
        QCOMPARE(loaded.clusters.names, (std::vector<std::string>{"C1", "C2", "delta"}));
        // Reopened with the same mining result, the manual assignment is what the list shows.
        MainWindow w2;
        w2.setInteractive(false);
        QString error;
        QVERIFY2(w2.openProject(path, &error), qPrintable(error));
        w2.setMiningResult(handMade());
        QCOMPARE(w2.clusterModel()->assignment().labelOfLeaf, (QVector<int>{1, 1, 0, 2}));
        QCOMPARE(w2.clusterModel()->assignment().nameOf(2), QStringLiteral("delta"));
        QVERIFY(w2.clusterModel()->state().isManual());
        QVERIFY(!w2.isModified());
        QVERIFY(w2.recentFiles().contains(QFileInfo(path).absoluteFilePath()));
    }
};

QTEST_MAIN(TestClusterEditing)
#include "tst_cluster_editing.moc"
