// Issue 6 / 14: the engine's conversion plan by hand on the demo config and as the Experts panel shows it
// (widgets from the conversion schema, every recipe of the registry), the routing adapters (chips, heat strip,
// tooltips, CSV) against a hand-made trace and against `den2moe route --json`, the debounced routing
// view (ten quick keystrokes run at most a few traces; the last text wins), the expert-load view, and
// a screenshot of the routing view on a small conversion made here (test-output/routing-view.png);
// issue 25: byte tokens grouped into character spans (chips with a stripe per token, CSV, tooltips),
// the same spans as `den2moe route --json` in five scripts, and the headless form's PNG and CSV.
#include "app_test_support.h"
#include "engine_bridge.h"
#include "conversion_panel.h"
#include "settings_form.h"
#include "step_jobs.h"

#include "convert/plan.h"
#include "core/run_context.h"
#include "pipeline/conversion.h"
#include "expert_load_view.h"
#include "main_window.h"
#include "pipeline_panel.h"
#include "moe_adapters.h"
#include "routing_view.h"

#include <QAction>
#include <QComboBox>
#include <QLabel>
#include <QSpinBox>
#include <QPushButton>
#include <QTableWidget>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineEdit>
#include <QProcess>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using namespace den2moe;
using namespace den2moe::ui;

namespace {

QString outputDir() {
    const QString dir = QStringLiteral(D2M_BUILD_DIR "/test-output");
    QDir().mkpath(dir);
    return dir;
}

LlamaConfig demoConfig() {  // demo-llama-7m's config.json
    LlamaConfig c;
    c.vocab_size = 4096;
    c.n_embd = 256;
    c.n_ff = 768;
    c.n_layer = 6;
    c.n_head = 8;
    c.n_head_kv = 4;
    c.head_dim = 32;
    return c;
}

/// Demo-style domains for plans (the engine checks that cluster domains exist in the project).
Project planProject() {
    Project p;
    for (const char* d : {"wiki", "web", "gsm8k", "python", "stories", "news"}) {
        ProjectDomain dom;
        dom.name = d;
        p.domains.push_back(dom);
    }
    return p;
}

ConvertSettings settings(Recipe r, int64_t experts, int64_t topK, double ratio) {
    ConvertSettings s;
    s.recipe = r;
    s.n_experts = experts;
    s.top_k = topK;
    s.ratio = ratio;
    return s;
}

RoutingTrace handTrace() {
    RoutingTrace t;
    t.ids = {1, 50, 60, 70};
    t.pieces = {"<s>", "\xE2\x96\x81" "two", "\xE2\x96\x81" "plus", "\n"};
    t.n_layers = 2;
    t.n_experts = 3;
    t.moe_layers = {0, 1};
    t.picks = {{{{0, 0.9f}, {1, 0.1f}}, {{2, 0.6f}, {0, 0.4f}}, {{1, 0.7f}, {2, 0.3f}}, {{2, 0.5f}, {1, 0.5f}}},
               {{{1, 0.8f}, {0, 0.2f}}, {{1, 0.6f}, {2, 0.4f}}, {{0, 0.55f}, {1, 0.45f}}, {{2, 0.9f}, {0, 0.1f}}}};
    t.load = {{0.25, 0.25, 0.5}, {0.25, 0.5, 0.25}};
    return t;
}

}  // namespace

class TestMoeViews : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_tmp.isValid()); }

    /// The engine's plan (convert/plan.h), which the Experts panel shows, by hand on the demo config.
    void planOnDemoConfigByHand() {
        const LlamaConfig c = demoConfig();
        const Project p = planProject();
        // trunk: embed + lm_head 2·4096·256 = 2 097 152; final norm 256;
        // per layer attention 256·256 (q) + 2·256·128 (k, v) + 256·256 (o) + 2·256 (norms) = 197 120
        QCOMPARE(trunk_params(c), int64_t(2097152 + 256 + 6 * 197120));
        const int64_t trunk = 2097152 + 256 + 6 * 197120;  // 3 280 128
        QCOMPARE(plan_conversion(c, p, {}, settings(Recipe::Flap, 8, 1, 0.5)).dense_params, trunk + 6 * 3 * 256 * 768);

        ProjectClusters pc;
        pc.members = {{"wiki", "web"}, {"gsm8k"}, {"python"}, {"stories", "news"}};
        ConvertSettings s = settings(Recipe::Dive, 8, 1, 0.5);
        ConversionPlan dive = plan_conversion(c, p, pc, s);
        QVERIFY2(dive.ok(), dive.errors.empty() ? "" : dive.errors.front().c_str());
        QCOMPARE(dive.n_experts, int64_t(4));  // one per cluster, whatever n_experts says
        QCOMPARE(int(dive.experts.size()), 4);
        QCOMPARE(dive.experts[0].width, int64_t(384));  // 768 − ⌊768 · 0.5⌋
        QCOMPARE(dive.experts[0].domains, (std::vector<std::string>{"wiki", "web"}));
        // per layer: router 4·256, each expert 3·256·384 + 256 (bias)
        const int64_t expert = 3 * 256 * 384 + 256;
        QCOMPARE(dive.total_params, trunk + 6 * (4 * 256 + 4 * expert));
        QCOMPARE(dive.active_params, trunk + 6 * (4 * 256 + 1 * expert));
        QCOMPARE(dive.active_flops, 2 * (dive.active_params - 4096 * 256));
        s.ratio = 0.3;  // FLAP removes ⌊768 · 0.3⌋ = 230 channels: 538 stay
        QCOMPARE(plan_conversion(c, p, pc, s).experts[2].width, int64_t(538));
        s.top_k = 2;
        s.ratio = 0.5;
        QCOMPARE(plan_conversion(c, p, pc, s).active_params, trunk + 6 * (4 * 256 + 2 * expert));
        s.top_k = 5;
        QVERIFY(!plan_conversion(c, p, pc, s).ok());

        ConversionPlan random = plan_conversion(c, p, pc, settings(Recipe::Random, 8, 2, 0.5));
        QVERIFY(random.ok());
        QCOMPARE(random.experts.size(), size_t(8));
        QCOMPARE(random.experts[7].width, int64_t(96));  // 768 / 8, no bias
        QCOMPARE(random.total_params, trunk + 6 * (8 * 256 + 3 * 256 * 768));
        QCOMPARE(random.active_params, trunk + 6 * (8 * 256 + 2 * 3 * 256 * 96));
        QVERIFY(!plan_conversion(c, p, pc, settings(Recipe::Random, 7, 1, 0.5)).ok());

        ConversionPlan up = plan_conversion(c, p, pc, settings(Recipe::Upcycle, 4, 1, 0.5));
        QCOMPARE(up.experts[0].width, int64_t(768));
        QCOMPARE(up.total_params, trunk + 6 * (4 * 256 + 4 * 3 * 256 * 768));
        QCOMPARE(up.active_params, trunk + 6 * (4 * 256 + 3 * 256 * 768));

        ConversionPlan flap = plan_conversion(c, p, pc, settings(Recipe::Flap, 8, 1, 0.5));
        QCOMPARE(flap.n_experts, int64_t(0));
        QCOMPARE(flap.total_params, trunk + 6 * (3 * 256 * 384 + 256));
        QCOMPARE(flap.active_params, flap.total_params);
        QVERIFY(!plan_conversion(c, p, {}, s).ok());  // dive without clusters

        // Den2MoEE, K = 8 clusters of 96: 2 shared (one 192-wide MLP) + 6 routed + 1 null, top-2
        ConvertSettings d2e = settings(Recipe::Den2MoEE, 8, 2, 0.5);
        ConversionPlan dp = plan_conversion(c, p, pc, d2e);
        QVERIFY2(dp.ok(), dp.errors.empty() ? "" : dp.errors.front().c_str());
        QCOMPARE(dp.n_experts, int64_t(6));
        QCOMPARE(dp.experts.size(), size_t(7));
        QCOMPARE(dp.experts[0].expert, -1);  // the shared expert first
        QCOMPARE(dp.experts[0].width, int64_t(192));
        QCOMPARE(dp.experts[6].width, int64_t(96));
        // every neuron is kept; the stored router is weight [6, 256] + prototype prior [6, 256] + null
        // rows [1, 256] + selection bias [6]
        QCOMPARE(dp.total_params, trunk + 6 * (6 * 256 + 6 * 256 + 256 + 6 + 3 * 256 * 768));
        // active = the logit rows (6 + 1) + shared 192 + two routed 96 = 384 channels, DIVE's active width
        QCOMPARE(dp.active_params, trunk + 6 * (7 * 256 + 3 * 256 * 384));
        d2e.shared_ratio = 0.0;  // no shared expert, 8 routed
        QCOMPARE(plan_conversion(c, p, pc, d2e).n_experts, int64_t(8));
        d2e.top_k = 10;  // more than 8 routed + 1 null
        QVERIFY(!plan_conversion(c, p, pc, d2e).ok());
        d2e.top_k = 2;
        d2e.n_experts = 7;  // 768 % 7 != 0
        QVERIFY(!plan_conversion(c, p, pc, d2e).ok());
    }

    /// The Experts panel shows the engine's plan: its rows and numbers, for every recipe of the
    /// registry, with the recipe's settings enabled and the others not.
    void panelShowsTheEnginePlan() {
        const LlamaConfig c = demoConfig();
        Project p = planProject();
        p.clusters.members = {{"wiki", "web"}, {"gsm8k"}, {"python"}, {"stories", "news"}};
        ConversionPanel panel;
        panel.setProject(p, &c);
        QSignalSpy edited(&panel, &ConversionPanel::settingsEdited);
        auto* recipe = panel.findChild<QComboBox*>(QStringLiteral("recipe"));
        QVERIFY(recipe);
        QCOMPARE(recipe->count(), int(recipes().size()));
        for (int i = recipe->count() - 1; i >= 0; --i) {  // dive (index 0, the default) last: every pick changes
            const RecipeTraits& t = recipes()[size_t(i)];
            recipe->setCurrentIndex(i);  // as the user picks it
            QCOMPARE(recipe->currentText(), QString::fromUtf8(t.title));
            QCOMPARE(panel.settings().recipe, t.recipe);
            ConvertSettings expect;
            set_recipe(expect, t.recipe);  // the recipe's own defaults
            QCOMPARE(panel.settings().top_k, expect.top_k);
            QVERIFY(!edited.isEmpty());
            QCOMPARE(edited.last().first().value<ConvertSettings>().recipe, t.recipe);
            for (const FieldInfo& f : convert_schema().fields()) {
                if (f.key == "recipe") continue;
                QWidget* w = panel.findChild<QWidget*>(QString::fromStdString(f.key));
                QVERIFY2(w, f.key.c_str());
                QCOMPARE(w->isEnabled(), recipe_uses(t.recipe, f.key));
            }
            const ConversionPlan plan = plan_conversion(c, p, p.clusters, panel.settings());
            QVERIFY2(plan.ok(), plan.errors.empty() ? "" : plan.errors.front().c_str());
            QCOMPARE(panel.plan().total_params, plan.total_params);
            QCOMPARE(panel.plan().active_params, plan.active_params);
            QCOMPARE(panel.plan().active_flops, plan.active_flops);
            QCOMPARE(panel.planTable()->rowCount(), int(plan.experts.size()));
            for (int r = 0; r < int(plan.experts.size()); ++r) {
                QCOMPARE(panel.planTable()->item(r, 2)->text(), QString::number(plan.experts[size_t(r)].width));
            }
            const QString tip = panel.planSummary()->toolTip();
            QVERIFY2(tip.contains(QStringLiteral("total %1,").arg(plan.total_params)) &&
                         tip.contains(QStringLiteral("active %1;").arg(plan.active_params)),
                     qPrintable(tip));
        }
        // a field edit goes through the schema (its range) into the settings
        auto* topK = panel.findChild<QSpinBox*>(QStringLiteral("top_k"));
        QVERIFY(topK);
        QCOMPARE(topK->minimum(), int(convert_schema().find("top_k")->min));
        QCOMPARE(panel.settings().recipe, Recipe::Dive);
        topK->setValue(2);
        QCOMPARE(panel.settings().top_k, int64_t(2));
        QCOMPARE(edited.last().first().value<ConvertSettings>().top_k, int64_t(2));
        // a plan problem disables Convert and shows the engine's message
        topK->setValue(9);  // 4 experts
        QVERIFY(!panel.plan().ok());
        QVERIFY(!panel.runButton()->isEnabled());
        QVERIFY(panel.planSummary()->text().contains(QStringLiteral("top-k 9")));
    }

    void routingAdaptersMatchTheTrace() {
        const RoutingTrace t = handTrace();
        const auto chips0 = routingChips(t, 0);
        QCOMPARE(chips0.size(), size_t(4));
        QCOMPARE(chips0[1].text, QStringLiteral(" two"));
        QCOMPARE(chips0[3].text, QStringLiteral("\\n"));
        QCOMPARE(chips0[0].expert, 0);
        QCOMPARE(chips0[1].expert, 2);
        QCOMPARE(chips0[2].expert, 1);
        QCOMPARE(chips0[1].color, expertColor(2, 3));
        QVERIFY(expertColor(0, 3) != expertColor(1, 3) && expertColor(1, 3) != expertColor(2, 3));
        const auto chips1 = routingChips(t, 1);
        QCOMPARE(chips1[2].expert, 0);
        QCOMPARE(chips1[2].weight, 0.55f);
        const auto cells = routingHeatCells(t);
        QCOMPARE(cells, (std::vector<std::vector<int>>{{0, 2, 1, 2}, {1, 1, 0, 2}}));
        bridge::MoeModelInfo info;
        info.members = {{"wiki"}, {"gsm8k", "mmlu_stem"}, {"python"}};
        QCOMPARE(expertLabel(info, 1), QStringLiteral("e1 · gsm8k, mmlu_stem"));
        QCOMPARE(expertLabel(info, 5), QStringLiteral("e5"));
        const QString tip = routingTooltip(t, 2, &info);
        QVERIFY2(tip.contains(QStringLiteral("L0: e1 · gsm8k, mmlu_stem 0.70; e2 · python 0.30")), qPrintable(tip));
        QVERIFY2(tip.contains(QStringLiteral("L1: e0 · wiki 0.55; e1 · gsm8k, mmlu_stem 0.45")), qPrintable(tip));
        const QStringList csv = routingCsv(t).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        // the "\n" token's piece and span text are quoted: its 4 rows span 3 lines each
        QCOMPARE(csv.size(), 1 + 2 * 3 * 2 + 2 * 2 * 3);
        QCOMPARE(csv[0], QStringLiteral("token,piece,layer,rank,expert,weight,id,span,span_text,hex"));
        QCOMPARE(csv[1], QStringLiteral("0,<s>,0,0,0,0.9,1,0,<s>,"));

        // the view shows the same: chips in the painted canvas and a tooltip per chip
        RoutingView view;
        view.resize(700, 400);
        view.showTrace(std::make_shared<const RoutingTrace>(t), QStringLiteral("two plus"));
        view.setSelectedLayer(1);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QImage img = view.canvas()->grab().toImage();
        const QRect chip = view.canvas()->chipRect(2);
        QVERIFY(chip.isValid());
        const qreal dpr = img.devicePixelRatio();
        QCOMPARE(QColor(img.pixel(int((chip.left() + 3) * dpr), int(chip.center().y() * dpr))).rgb(),
                 expertColor(0, 3).rgb());  // token 2 goes to e0 at layer index 1
        QCOMPARE(view.canvas()->tokenAt(chip.center()), 2);
        QVERIFY(view.canvas()->toolTipFor(2).contains(QStringLiteral("L1: e0")));
    }

    /// Issue 25: the tokens of one character share one chip with a stripe per token; a lone byte
    /// shows as <0xNN>; the CSV carries the same spans, valid UTF-8 and the bytes in hex.
    void routingGroupsBytesIntoCharacters() {
        RoutingTrace t;
        // <s> ▁ <0xE5><0x8C><0x97> (北) <0xE4> (a lone byte: never completed) ! — as the demo tokenizer makes them
        t.ids = {1, 29871, 232, 143, 154, 231, 36};
        t.pieces = {"", "", "\xE5", "\x8C", "\x97", "\xE4", "!"};
        t.vocab = {"<s>", "\xE2\x96\x81", "<0xE5>", "<0x8C>", "<0x97>", "<0xE4>", "!"};
        t.repair = text::Repair::PerByte;
        t.n_layers = 1;
        t.n_experts = 3;
        t.moe_layers = {0};
        t.picks = {{{{0, 1.f}}, {{1, 1.f}}, {{0, 0.9f}}, {{1, 0.8f}}, {{2, 0.7f}}, {{2, 0.6f}}, {{1, 0.5f}}}};
        t.load = {{2.0 / 7, 3.0 / 7, 2.0 / 7}};
        const auto chips = routingChips(t, 0);
        QCOMPARE(chips.size(), size_t(5));
        QCOMPARE(chips[0].text, QStringLiteral("<s>"));
        QCOMPARE(chips[1].text, QStringLiteral(" "));  // the "▁" stripped after BOS: its vocabulary piece
        QCOMPARE(chips[2].text, QStringLiteral("北"));
        QCOMPARE(chips[2].firstToken, 2);
        QCOMPARE(chips[2].tokenCount(), 3);
        QCOMPARE(chips[2].experts, (std::vector<int>{0, 1, 2}));
        QCOMPARE(chips[3].text, QStringLiteral("<0xE4>"));
        QCOMPARE(chips[3].tokenCount(), 1);
        QCOMPARE(chips[4].text, QStringLiteral("!"));
        QVERIFY(routingTooltip(t, 3).contains(QStringLiteral("token 2 of 3 of '北'")));
        QVERIFY(routingTooltip(t, 3).contains(QStringLiteral("'&lt;0x8C&gt;'")));
        const QStringList csv = routingCsv(t).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(csv.size(), 1 + 7);
        QCOMPARE(csv[3], QStringLiteral("2,\uFFFD,0,0,0,0.9,232,2,北,e5"));
        QCOMPARE(csv[6], QStringLiteral("5,\uFFFD,0,0,2,0.6,231,3,\uFFFD,e4"));

        // painted: one chip for 北 with three stripes in its tokens' colours, each token its own hit box
        RoutingView view;
        view.resize(600, 300);
        view.showTrace(std::make_shared<const RoutingTrace>(t), QStringLiteral("北"));
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QTRY_VERIFY_WITH_TIMEOUT(view.canvas()->chipRect(4).isValid(), 5000);
        QTest::qWait(50);
        const QImage img = view.canvas()->grab().toImage();
        const qreal dpr = img.devicePixelRatio();
        const QRect r2 = view.canvas()->chipRect(2), r3 = view.canvas()->chipRect(3), r4 = view.canvas()->chipRect(4);
        QCOMPARE(r2.top(), r4.top());
        QCOMPARE(r2.right() + 1, r3.left());  // adjacent columns of one chip
        QCOMPARE(r3.right() + 1, r4.left());
        for (int tok : {2, 3, 4}) {
            const QRect r = view.canvas()->chipRect(tok);
            QCOMPARE(QColor(img.pixel(int(r.center().x() * dpr), int((r.bottom() - 2) * dpr))).rgb(),
                     expertColor(chips[2].experts[size_t(tok - 2)], 3).rgb());
            QCOMPARE(view.canvas()->tokenAt(r.center()), tok);
        }
        QVERIFY(view.canvas()->toolTipFor(4).contains(QStringLiteral("token 3 of 3")));
        QVERIFY(view.exportImage(outputDir() + QStringLiteral("/routing-bytes.png"), 600));
    }

    void expertLoadView() {
        ExpertLoad el;
        el.domains = {"wiki", "gsm8k"};
        el.moe_layers = {0, 1};
        el.n_experts = 2;
        el.share = {0.8, 0.2, 0.6, 0.4,   // wiki: layer 0, layer 1
                    0.1, 0.9, 0.3, 0.7};  // gsm8k
        QCOMPARE(ExpertLoadCanvas::cellValue(el, -1, 0, 0), 0.7);
        QCOMPARE(ExpertLoadCanvas::cellValue(el, 1, 1, 1), 0.7);
        ExpertLoadView v;
        v.resize(600, 300);
        v.setLoad(el);
        QCOMPARE(v.layerCombo()->count(), 3);
        QCOMPARE(v.selectedLayer(), -1);
        v.layerCombo()->setCurrentIndex(2);
        QCOMPARE(v.selectedLayer(), 1);
        const QString csv = expertLoadCsv(el);
        QVERIFY(csv.contains(QStringLiteral("gsm8k,1,1,0.7\n")));
        const QString png = outputDir() + QStringLiteral("/expert-load.png");
        QString err;
        QVERIFY2(v.exportImage(png, 600, &err), qPrintable(err));
        QVERIFY(v.exportImage(m_tmp.filePath(QStringLiteral("l.svg")), 600, &err));
        QVERIFY(v.exportImage(m_tmp.filePath(QStringLiteral("l.pdf")), 600, &err));
        QVERIFY(QImage(png).width() > 100);
        QVERIFY(QFileInfo(m_tmp.filePath(QStringLiteral("l.pdf"))).size() > 100);
    }

    /// A real conversion of a 4-domain demo project (shared by the tests below).
    void convertSmallDemo() {
        const char* shared = getenv("D2M_SHARED_DIR");
        if (!shared || !*shared) QSKIP("D2M_SHARED_DIR not set");
        Project p = d2mtest::smallDemoProject({"wiki", "python", "gsm8k", "stories"},
                                              m_tmp.filePath(QStringLiteral("cache")));
        ProjectClusters pc;
        pc.members = {{"wiki", "stories"}, {"python"}, {"gsm8k"}};
        pc.names = {"C1", "C2", "C3"};
        ConvertSettings s;
        s.recipe = Recipe::Dive;
        s.top_k = 1;
        s.ratio = 0.5;
        s.router_init = "centroid";
        m_convDir = m_tmp.filePath(QStringLiteral("conv"));
        den2moe::RunContext ctx;
        const ConversionOutputPtr out = runConversionStep(p, pc, s, m_convDir.toStdString(), ctx);
        QVERIFY(out->model);
        QCOMPARE(out->ppl.size(), size_t(4));
        QCOMPARE(out->load.n_experts, 3);
        // the plan's numbers are the converted model's
        const ConversionPlan plan = plan_project_conversion(p, pc, s);
        QCOMPARE(plan.dense_params, out->params_dense);
        QCOMPARE(plan.total_params, out->params_total);
        QCOMPARE(plan.active_params, out->params_active);
        QCOMPARE(bridge::moeModelInfo(*out->model).params_total, plan.total_params);
        QCOMPARE(bridge::moeModelInfo(*out->model).params_active, plan.active_params);
        QVERIFY(QFile::exists(m_convDir + QStringLiteral("/moe_config.json")));
        m_model = out->model;
        QCOMPARE(bridge::moeModelInfo(*m_model).members.size(), size_t(3));
    }

    void routingMatchesTheCli() {
        if (!m_model) QSKIP("no conversion");
        const QString text = QStringLiteral("Tom has 3 apples and buys 5 more.");
        RoutingTrace t = bridge::traceRouting(*m_model, text.toStdString());
        const QString cli = QStringLiteral(D2M_BUILD_DIR "/bin/den2moe");
        if (!QFile::exists(cli)) QSKIP("den2moe CLI not built in this tree");
        QProcess proc;
        proc.start(cli, {QStringLiteral("route"), m_convDir, QStringLiteral("--text"), text, QStringLiteral("--json")});
        QVERIFY(proc.waitForFinished(60000));
        QCOMPARE(proc.exitCode(), 0);
        const QJsonObject j = QJsonDocument::fromJson(proc.readAllStandardOutput()).object();
        const QJsonArray pieces = j.value(QStringLiteral("pieces")).toArray();
        QCOMPARE(pieces.size(), int(t.pieces.size()));
        const auto cellsApp = routingHeatCells(t);
        const QJsonArray layers = j.value(QStringLiteral("layers")).toArray();
        QCOMPARE(layers.size(), int(cellsApp.size()));
        for (int l = 0; l < layers.size(); ++l) {
            const QJsonArray toks = layers[l].toObject().value(QStringLiteral("tokens")).toArray();
            const auto chips = routingChips(t, l);
            for (int i = 0; i < toks.size(); ++i) {
                const int e = toks[i].toArray()[0].toObject().value(QStringLiteral("expert")).toInt();
                QCOMPARE(cellsApp[size_t(l)][size_t(i)], e);
                QCOMPARE(chips[size_t(i)].expert, e);
                QCOMPARE(chips[size_t(i)].color, expertColor(e, t.n_experts));
            }
        }
    }

    /// The app groups the tokens of any script as `den2moe route --json` does (spans equal), and
    /// the headless form renders Greek, Chinese, emoji and Arabic text (PNG and CSV, exit 0).
    void routingInEveryScriptMatchesTheCli() {
        if (!m_model) QSKIP("no conversion");
        const QString cli = QStringLiteral(D2M_BUILD_DIR "/bin/den2moe");
        const QString studio = QStringLiteral(D2M_BUILD_DIR "/bin/den2moe-studio");
        if (!QFile::exists(cli) || !QFile::exists(studio)) QSKIP("den2moe / den2moe-studio not built in this tree");
        const QStringList texts = {QStringLiteral("Ελληνικά γράμματα"), QStringLiteral("北京欢迎你，机器学习"),
                                   QStringLiteral("👩‍👩‍👧‍👦 🇬🇷 👍🏽 🏳️‍🌈"), QStringLiteral("مرحبا بالعالم"),
                                   QStringLiteral("café naïve e\u0301 zero\u200bwidth")};
        const QStringList names = {QStringLiteral("greek"), QStringLiteral("chinese"), QStringLiteral("emoji"),
                                   QStringLiteral("arabic"), QStringLiteral("mixed")};
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        for (int k = 0; k < texts.size(); ++k) {
            const QString& text = texts[k];
            const RoutingTrace t = bridge::traceRouting(*m_model, text.toStdString());
            QProcess proc;
            proc.start(cli, {QStringLiteral("route"), m_convDir, QStringLiteral("--text"), text, QStringLiteral("--json"),
                             QStringLiteral("--quiet")});
            QVERIFY(proc.waitForFinished(60000));
            QCOMPARE(proc.exitCode(), 0);
            QJsonParseError perr;
            const QJsonObject j = QJsonDocument::fromJson(proc.readAllStandardOutput(), &perr).object();
            QCOMPARE(perr.error, QJsonParseError::NoError);
            const QJsonArray spans = j.value(QStringLiteral("spans")).toArray();
            const auto chips = routingChips(t, 0);
            QCOMPARE(int(chips.size()), spans.size());
            int multi = 0;
            for (int i = 0; i < spans.size(); ++i) {
                const QJsonArray range = spans[i].toObject().value(QStringLiteral("tokens")).toArray();
                QCOMPARE(chips[size_t(i)].firstToken, range[0].toInt());
                QCOMPARE(chips[size_t(i)].lastToken, range[1].toInt());
                multi += chips[size_t(i)].tokenCount() > 1;
            }
            if (k < 3) QVERIFY2(multi > 0, qPrintable(names[k]));  // byte-fallback characters grouped
            // the headless form: PNG and CSV
            const QString png = outputDir() + QStringLiteral("/routing-%1.png").arg(names[k]);
            const QString csv = m_tmp.filePath(QStringLiteral("routing-%1.csv").arg(names[k]));
            QFile::remove(png);
            QProcess st;
            st.setProcessEnvironment(env);
            st.start(studio, {QStringLiteral("--model-dir"), m_convDir, QStringLiteral("--view"), QStringLiteral("routing"),
                              QStringLiteral("--text"), text, QStringLiteral("--screenshot"), png, QStringLiteral("--csv"),
                              csv});
            QVERIFY(st.waitForFinished(120000));
            QVERIFY2(st.exitCode() == 0, st.readAllStandardError().constData());
            QVERIFY(QImage(png).width() >= 600);
            QFile f(csv);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QByteArray bytes = f.readAll();
            QVERIFY(QString::fromUtf8(bytes).toUtf8() == bytes);  // valid UTF-8
            // the same rows as the app's CSV of this trace (weights aside: another process may sum in
            // another order); these texts hold no comma or newline, so fields split plainly
            auto rows = [](const QString& csvText) {
                QStringList out;
                for (const QString& line : csvText.split(QLatin1Char('\n'), Qt::SkipEmptyParts)) {
                    QStringList f = line.split(QLatin1Char(','));
                    if (f.size() > 5) f[5].clear();
                    out << f.join(QLatin1Char(','));
                }
                return out;
            };
            QCOMPARE(rows(QString::fromUtf8(bytes)), rows(routingCsv(t)));
        }
    }

    void typingIsDebouncedAndTheLastTextWins() {
        if (!m_model) QSKIP("no conversion");
        RoutingView view;
        view.resize(800, 500);
        view.setModel(m_model);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QSignalSpy updated(&view, &RoutingView::traceUpdated);
        int staleShown = 0;  // a shown trace must always be the one of the text in the box
        connect(&view, &RoutingView::traceUpdated, this, [&] { staleShown += view.traceText() != view.textEdit()->text(); });
        QTest::keyClicks(view.textEdit(), QStringLiteral("two plus t"), Qt::NoModifier, 20);  // 10 keys, 20 ms apart
        QTRY_VERIFY_WITH_TIMEOUT(view.traceText() == QStringLiteral("two plus t") && !view.isTracing(), 10000);
        QVERIFY2(view.tracesStarted() <= 3, qPrintable(QString::number(view.tracesStarted())));
        QVERIFY(view.tracesStarted() >= 1);
        // the shown trace is the one of the full text
        const RoutingTrace expect = bridge::traceRouting(*m_model, "two plus t");
        QCOMPARE(view.trace()->ids, expect.ids);

        // no debounce: every key starts a request; stale results are dropped and the last wins
        view.setDebounceMs(0);
        const int before = view.tracesStarted();
        QTest::keyClicks(view.textEdit(), QStringLiteral("hree is"));
        QTRY_VERIFY_WITH_TIMEOUT(view.traceText() == QStringLiteral("two plus three is") && !view.isTracing(), 10000);
        QTest::qWait(100);
        QCOMPARE(view.traceText(), QStringLiteral("two plus three is"));
        QCOMPARE(view.trace()->ids, bridge::traceRouting(*m_model, "two plus three is").ids);
        QVERIFY(view.tracesStarted() - before <= 7);
        QCOMPARE(staleShown, 0);

        // a slow model: keys arrive while a trace runs; its result is stale and dropped, the latest
        // text is traced next and wins
        view.setSimulatedLatencyMs(150);
        for (QChar c : QStringLiteral(" four")) {
            QTest::keyClick(view.textEdit(), c.toLatin1());
            QTest::qWait(40);
        }
        QTRY_VERIFY_WITH_TIMEOUT(view.traceText() == QStringLiteral("two plus three is four") && !view.isTracing(), 10000);
        QVERIFY(view.resultsDropped() >= 1);
        QCOMPARE(staleShown, 0);
        QCOMPARE(view.trace()->ids, bridge::traceRouting(*m_model, "two plus three is four").ids);
    }

    void routingScreenshot() {
        if (!m_model) QSKIP("no conversion");
        RoutingView view;
        view.resize(900, 500);
        view.setModel(m_model);
        QSignalSpy updated(&view, &RoutingView::traceUpdated);
        view.setText(QStringLiteral("Natalia sold 48 clips in April and half as many in May. How many in all?"));
        QVERIFY(updated.wait(10000));
        const QString png = outputDir() + QStringLiteral("/routing-view.png");
        QString err;
        QVERIFY2(view.exportImage(png, 900, &err), qPrintable(err));
        const QImage img(png);
        QVERIFY(img.width() >= 900);
        QSet<QRgb> colours;
        for (int e = 0; e < 3; ++e) colours.insert(expertColor(e, 3).rgb());
        int expertPixels = 0;
        for (int y = 0; y < img.height(); y += 2)
            for (int x = 0; x < img.width(); x += 2) expertPixels += colours.contains(img.pixel(x, y) | 0xff000000u);
        QVERIFY2(expertPixels > 200, qPrintable(QString::number(expertPixels)));
        QVERIFY(view.exportImage(m_tmp.filePath(QStringLiteral("r.svg")), 900, &err));
        QVERIFY(view.exportCsv(m_tmp.filePath(QStringLiteral("r.csv")), &err));
        QFile f(m_tmp.filePath(QStringLiteral("r.csv")));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(f.readLine().startsWith("token,piece,layer,rank,expert,weight"));
    }

    /// Two models side by side: the same small project converted with random router init next to
    /// the centroid one; the second panel is the second model's trace, the first is unchanged, the
    /// newest text wins on both sides, and closing the comparison removes the second panel.
    void routingComparison() {
        if (!m_model) QSKIP("no conversion");
        Project p = d2mtest::smallDemoProject({"wiki", "python", "gsm8k", "stories"},
                                              m_tmp.filePath(QStringLiteral("cache")));
        ProjectClusters pc;
        pc.members = {{"wiki", "stories"}, {"python"}, {"gsm8k"}};
        pc.names = {"C1", "C2", "C3"};
        ConvertSettings s;
        s.recipe = Recipe::Dive;
        s.top_k = 1;
        s.ratio = 0.5;
        s.router_init = "random";
        s.evaluate = false;
        m_convDir2 = m_tmp.filePath(QStringLiteral("conv-random-router"));
        den2moe::RunContext ctx;
        const ConversionOutputPtr out = runConversionStep(p, pc, s, m_convDir2.toStdString(), ctx);
        QVERIFY(out->model);
        const bridge::MoeModelPtr model2 = out->model;

        const QString text = QStringLiteral("Natalia sold 48 clips in April and half as many in May.");
        const RoutingTrace expect1 = bridge::traceRouting(*m_model, text.toStdString());
        const RoutingTrace expect2 = bridge::traceRouting(*model2, text.toStdString());
        QVERIFY2(routingHeatCells(expect1) != routingHeatCells(expect2), "the two router inits route identically");

        RoutingView view;
        view.resize(900, 700);
        view.setModel(m_model);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QVERIFY(!view.compareModel());
        QVERIFY(view.compareCanvas()->isHidden());
        QVERIFY(view.canvas()->title().isEmpty());
        QSignalSpy updated(&view, &RoutingView::traceUpdated);
        view.setText(text);
        QVERIFY(updated.wait(10000));
        const auto first = view.trace();
        QString err;
        const QString single = m_tmp.filePath(QStringLiteral("single.png"));
        QVERIFY2(view.exportImage(single, 900, &err), qPrintable(err));

        // load the comparison: the current text is traced by the second model at once
        QSignalSpy cmpUpdated(&view, &RoutingView::compareTraceUpdated);
        QVERIFY2(view.loadCompareModel(m_convDir2, &err), qPrintable(err));
        QVERIFY(!view.loadCompareModel(m_tmp.filePath(QStringLiteral("nope")), &err));  // a failed load keeps it
        QVERIFY(view.compareModel());
        QTRY_VERIFY_WITH_TIMEOUT(view.compareTraceText() == text && !view.isCompareTracing(), 10000);
        QVERIFY(!view.compareCanvas()->isHidden());
        QCOMPARE(view.compareCanvas()->trace(), view.compareTrace());
        QCOMPARE(view.compareTrace()->ids, expect2.ids);
        QCOMPARE(routingHeatCells(*view.compareTrace()), routingHeatCells(expect2));
        // the first panel is unchanged (same trace object, still the first model's routing)
        QCOMPARE(view.trace(), first);
        QCOMPARE(view.canvas()->trace(), first);
        QCOMPARE(routingHeatCells(*view.trace()), routingHeatCells(expect1));
        // titles: folder name, recipe and router init from moe_config.json
        QVERIFY2(view.canvas()->title().startsWith(QStringLiteral("conv · dive · centroid routers")),
                 qPrintable(view.canvas()->title()));
        QVERIFY2(view.compareCanvas()->title().startsWith(QStringLiteral("conv-random-router · dive · random routers")),
                 qPrintable(view.compareCanvas()->title()));
        QVERIFY(!view.clearCompareButton()->isHidden());
        // the second panel's chips are painted in the second model's top-1 colours (each side has its
        // own layer selector)
        view.setSelectedLayer(1);
        view.setSelectedCompareLayer(1);
        QTRY_VERIFY_WITH_TIMEOUT(view.compareCanvas()->chipRect(1).isValid(), 5000);
        QTest::qWait(50);
        const QImage img = view.compareCanvas()->grab().toImage();
        const qreal dpr = img.devicePixelRatio();
        const auto chips2 = routingChips(expect2, 1);
        for (int tok : {1, 3, 5}) {
            const QRect chip = view.compareCanvas()->chipRect(tok);
            QCOMPARE(QColor(img.pixel(int((chip.left() + 3) * dpr), int(chip.center().y() * dpr))).rgb(),
                     expertColor(chips2[size_t(tok)].expert, expect2.n_experts).rgb());
        }
        QVERIFY(view.grab().save(outputDir() + QStringLiteral("/routing-compare-widget.png")));
        // the export shows both panels
        const QString both = outputDir() + QStringLiteral("/routing-compare.png");
        QVERIFY2(view.exportImage(both, 900, &err), qPrintable(err));
        QVERIFY(QImage(both).height() > QImage(single).height() * 3 / 2);

        // typing: both sides trace every settled text, each shows only its newest result
        int staleShown = 0;
        connect(&view, &RoutingView::traceUpdated, this, [&] { staleShown += view.traceText() != view.textEdit()->text(); });
        connect(&view, &RoutingView::compareTraceUpdated, this,
                [&] { staleShown += view.compareTrace() && view.compareTraceText() != view.textEdit()->text(); });
        view.setDebounceMs(0);
        view.setSimulatedLatencyMs(60);
        const int before1 = view.tracesStarted(), before2 = view.compareTracesStarted();
        for (QChar c : QStringLiteral(" Total?")) {
            QTest::keyClick(view.textEdit(), c.toLatin1());
            QTest::qWait(20);
        }
        const QString full = text + QStringLiteral(" Total?");
        QTRY_VERIFY_WITH_TIMEOUT(view.traceText() == full && view.compareTraceText() == full && !view.isTracing() &&
                                     !view.isCompareTracing(),
                                 15000);
        QCOMPARE(staleShown, 0);
        QVERIFY(view.tracesStarted() > before1 && view.compareTracesStarted() > before2);
        QVERIFY(view.resultsDropped() + view.compareResultsDropped() >= 1);
        QCOMPARE(view.trace()->ids, bridge::traceRouting(*m_model, full.toStdString()).ids);
        QCOMPARE(routingHeatCells(*view.compareTrace()), routingHeatCells(bridge::traceRouting(*model2, full.toStdString())));
        view.setSimulatedLatencyMs(0);

        // close the comparison: the second panel goes, the first stays
        const QString both2 = m_tmp.filePath(QStringLiteral("both2.png"));
        QVERIFY2(view.exportImage(both2, 900, &err), qPrintable(err));
        const auto kept = view.trace();
        view.clearCompareButton()->click();
        QVERIFY(!view.compareModel());
        QVERIFY(!view.compareTrace());
        QVERIFY(view.compareCanvas()->isHidden());
        QVERIFY(view.clearCompareButton()->isHidden());
        QVERIFY(view.canvas()->title().isEmpty());
        QCOMPARE(view.trace(), kept);
        const QString after = m_tmp.filePath(QStringLiteral("after.png"));
        QVERIFY2(view.exportImage(after, 900, &err), qPrintable(err));
        QVERIFY(QImage(after).height() < QImage(both2).height() * 2 / 3);
        // a new text traces only the first model again
        const int cmpStarted = view.compareTracesStarted();
        view.setText(QStringLiteral("seven"));
        QTRY_VERIFY_WITH_TIMEOUT(view.traceText() == QStringLiteral("seven") && !view.isTracing(), 10000);
        QCOMPARE(view.compareTracesStarted(), cmpStarted);
    }

    /// The Experts step in the window: plan table from the (manual) clusters, the "Rerun conversion"
    /// action through the JobRunner, the result in the panel, routing and expert-load views; cancel.
    void conversionInTheWindow() {
        if (!m_model) QSKIP("no conversion");
        Project p = d2mtest::smallDemoProject({"wiki", "python", "gsm8k", "stories"},
                                              m_tmp.filePath(QStringLiteral("cache")));
        p.clusters.members = {{"wiki", "stories"}, {"python", "gsm8k"}};
        p.clusters.names = {"C1", "C2"};
        p.clusters.manual = true;
        MainWindow w;
        w.setInteractive(false);
        w.setProject(p, false);
        ConversionPanel* panel = w.conversionPanel();
        ConvertSettings s;
        s.recipe = Recipe::Dive;
        s.router_init = "centroid";
        s.ratio = 0.25;
        panel->setSettings(s);
        QCOMPARE(panel->planTable()->rowCount(), 2);
        QCOMPARE(panel->planTable()->item(1, 1)->text(), QStringLiteral("python, gsm8k"));
        QCOMPARE(panel->planTable()->item(0, 2)->text(), QStringLiteral("576"));  // 768 − ⌊768 · 0.25⌋
        QVERIFY(panel->runButton()->isEnabled());
        QVERIFY(w.pipeline()->isAvailable(PipelineStep::Experts));
        QVERIFY(w.conversionAction()->isEnabled());

        // cancel right away: the step goes back to where it was
        QSignalSpy cancelled(&w, &MainWindow::jobCancelled);
        QVERIFY(w.startConversionFromPanel());
        QCOMPARE(w.pipeline()->state(PipelineStep::Experts), StepState::Running);
        w.jobRunner()->cancel();
        QVERIFY(cancelled.wait(10000));
        QCOMPARE(w.pipeline()->state(PipelineStep::Experts), StepState::NotRun);
        QTRY_VERIFY_WITH_TIMEOUT(!w.jobRunner()->isBusy(), 10000);

        QSignalSpy done(&w, &MainWindow::conversionFinished);
        w.conversionAction()->trigger();
        QVERIFY(w.jobRunner()->isBusy());
        QVERIFY(!panel->runButton()->isEnabled());
        QVERIFY(done.wait(120000));
        QCOMPARE(w.pipeline()->state(PipelineStep::Experts), StepState::Done);
        const ConversionOutputPtr r = w.conversionResult();
        QVERIFY(r && r->model);
        const QString expected = QDir(m_tmp.filePath(QStringLiteral("cache"))).filePath(QStringLiteral("experts/dive"));
        QCOMPARE(QDir::cleanPath(QString::fromStdString(r->dir)), QDir::cleanPath(expected));
        QVERIFY(QFile::exists(expected + QStringLiteral("/model.safetensors")));
        QCOMPARE(panel->resultTable()->rowCount(), 4);
        QCOMPARE(panel->resultTable()->item(1, 0)->text(), QStringLiteral("gsm8k"));  // project order
        QVERIFY(panel->resultTable()->item(1, 2)->text().toDouble() > 1.0);
        QCOMPARE(panel->plan().total_params, r->params_total);
        QCOMPARE(panel->plan().active_params, r->params_active);
        QCOMPARE(bridge::moeModelInfo(*w.routingView()->model()).n_experts, 2);
        QCOMPARE(w.expertLoadView()->load().domains.size(), size_t(4));
        QCOMPARE(w.expertLoadView()->load().n_experts, 2);
        QTRY_VERIFY_WITH_TIMEOUT(w.conversionAction()->isEnabled(), 5000);
        w.resize(1500, 950);
        w.tabs()->setCurrentWidget(panel);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(w.grab().save(outputDir() + QStringLiteral("/studio-experts.png")));
        // exports of the window's new views
        QString err;
        QVERIFY2(w.exportView(QStringLiteral("experts"), m_tmp.filePath(QStringLiteral("w-load.svg")), &err), qPrintable(err));
        QVERIFY(w.exportView(QStringLiteral("experts"), m_tmp.filePath(QStringLiteral("w-load.csv")), &err));
        QVERIFY(!w.exportView(QStringLiteral("routing"), m_tmp.filePath(QStringLiteral("w-r.png")), &err));  // no text yet
        w.routingView()->setText(QStringLiteral("seven times six"));
        QTRY_VERIFY_WITH_TIMEOUT(w.routingView()->trace() != nullptr, 10000);
        QVERIFY2(w.exportView(QStringLiteral("routing"), m_tmp.filePath(QStringLiteral("w-r.pdf")), &err), qPrintable(err));
        // editing the clusters makes the experts stale
        w.pipeline()->markDownstreamStale(PipelineStep::Clusters);
        QCOMPARE(w.pipeline()->state(PipelineStep::Experts), StepState::Stale);
    }

    void headlessRoutingAndExperts() {
        if (!m_model) QSKIP("no conversion");
        const QString bin = QStringLiteral(D2M_BUILD_DIR "/bin/den2moe-studio");
        if (!QFile::exists(bin)) QSKIP("den2moe-studio not built");
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        auto run = [&](const QStringList& args, QString* err) {
            QProcess proc;
            proc.setProcessEnvironment(env);
            proc.start(bin, args);
            proc.waitForFinished(120000);
            *err = QString::fromUtf8(proc.readAllStandardError());
            return proc.exitCode();
        };
        QString err;
        const QString png = m_tmp.filePath(QStringLiteral("headless-routing.png"));
        const QString csv = m_tmp.filePath(QStringLiteral("headless-routing.csv"));
        QCOMPARE(run({QStringLiteral("--model-dir"), m_convDir, QStringLiteral("--view"), QStringLiteral("routing"),
                      QStringLiteral("--text"), QStringLiteral("two plus two is four"), QStringLiteral("--layer"),
                      QStringLiteral("1"), QStringLiteral("--screenshot"), png, QStringLiteral("--csv"), csv},
                     &err),
                 0);
        QVERIFY2(QImage(png).width() > 500, qPrintable(err));
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(f.readAll().count('\n') > 6);
        // --view routing without --text, an unknown recipe, a view without a model: user errors (1)
        QCOMPARE(run({QStringLiteral("--model-dir"), m_convDir, QStringLiteral("--view"), QStringLiteral("routing"),
                      QStringLiteral("--screenshot"), png},
                     &err),
                 1);
        QVERIFY(err.contains(QLatin1String("--text")));
        QCOMPARE(run({QStringLiteral("--run"), QStringLiteral("conversion"), QStringLiteral("--recipe"),
                      QStringLiteral("nope")},
                     &err),
                 1);
        QVERIFY2(err.contains(QLatin1String("unknown recipe 'nope'")), qPrintable(err));
        QCOMPARE(run({QStringLiteral("--view"), QStringLiteral("experts"), QStringLiteral("--screenshot"), png}, &err), 1);
        QVERIFY2(err.contains(QLatin1String("--model-dir")), qPrintable(err));
        // an option no step of this command line takes
        QCOMPARE(run({QStringLiteral("--model-dir"), m_convDir, QStringLiteral("--recipe"), QStringLiteral("dive"),
                      QStringLiteral("--view"), QStringLiteral("routing"), QStringLiteral("--text"), QStringLiteral("x"),
                      QStringLiteral("--screenshot"), png},
                     &err),
                 1);
        QVERIFY2(err.contains(QLatin1String("unknown option --recipe")), qPrintable(err));
        // --compare-dir: both models on one picture; only with --view routing or experts (tst_run_comparison)
        if (!m_convDir2.isEmpty()) {
            const QString cmp = m_tmp.filePath(QStringLiteral("headless-compare.png"));
            QCOMPARE(run({QStringLiteral("--model-dir"), m_convDir, QStringLiteral("--compare-dir"), m_convDir2,
                          QStringLiteral("--view"), QStringLiteral("routing"), QStringLiteral("--text"),
                          QStringLiteral("two plus two is four"), QStringLiteral("--screenshot"), cmp},
                         &err),
                     0);
            QVERIFY2(QImage(cmp).height() > QImage(png).height() * 3 / 2, qPrintable(err));
            QCOMPARE(run({QStringLiteral("--model-dir"), m_convDir, QStringLiteral("--compare-dir"),
                          m_tmp.filePath(QStringLiteral("nope")), QStringLiteral("--view"), QStringLiteral("routing"),
                          QStringLiteral("--text"), QStringLiteral("x"), QStringLiteral("--screenshot"), cmp},
                         &err),
                     1);
            QVERIFY(err.contains(QLatin1String("--compare-dir")));
        }
        QCOMPARE(run({QStringLiteral("--model-dir"), m_convDir, QStringLiteral("--compare-dir"), m_convDir,
                      QStringLiteral("--view"), QStringLiteral("heatmap"), QStringLiteral("--screenshot"), png},
                     &err),
                 1);
        QVERIFY2(err.contains(QLatin1String("--compare-dir needs --view routing or --view experts")), qPrintable(err));
    }

private:
    QTemporaryDir m_tmp;
    QString m_convDir;
    QString m_convDir2;
    bridge::MoeModelPtr m_model;
};

QTEST_MAIN(TestMoeViews)
#include "tst_moe_views.moc"
