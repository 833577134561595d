// CSV export: quoting, number round trip, order, and the cluster table.
#include "csv_export.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace den2moe::ui;

class TestCsvExport : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void quotesOnlyWhenNeeded() {
        QCOMPARE(csvField(QStringLiteral("wiki")), QStringLiteral("wiki"));
        QCOMPARE(csvField(QStringLiteral("a,b")), QStringLiteral("\"a,b\""));
        QCOMPARE(csvField(QStringLiteral("say \"hi\"")), QStringLiteral("\"say \"\"hi\"\"\""));
        QCOMPARE(csvField(QStringLiteral("two\nlines")), QStringLiteral("\"two\nlines\""));
        QCOMPARE(csvField(QStringLiteral(" padded")), QStringLiteral("\" padded\""));
    }

    void matrixWithLabelsAndOrder() {
        MatrixViewData m;
        m.n = 2;
        m.labels = {QStringLiteral("web, crawled"), QStringLiteral("python")};
        m.raw = {0.1, 12.5, std::numeric_limits<double>::quiet_NaN(), 1.0 / 3.0};
        const QString csv = matrixCsv(m, MatrixKind::Raw);
        const QStringList lines = csv.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 3);
        QCOMPARE(lines[0], QStringLiteral("domain,\"web, crawled\",python"));
        QCOMPARE(lines[1], QStringLiteral("\"web, crawled\",0.1,12.5"));
        QCOMPARE(lines[2].section(QLatin1Char(','), 0, 1),
                 QStringLiteral("python,"));                                    // NaN = empty
        QCOMPARE(lines[2].section(QLatin1Char(','), 2).toDouble(), 1.0 / 3.0);  // round trip
        const QStringList swapped = matrixCsv(m, MatrixKind::Raw, {1, 0}).split(QLatin1Char('\n'));
        QCOMPARE(swapped[0], QStringLiteral("domain,python,\"web, crawled\""));
        QVERIFY(swapped[2].endsWith(QStringLiteral(",12.5,0.1")));
        QVERIFY(matrixCsv(m, MatrixKind::Correlation).isEmpty());
    }

    void clusterTable() {
        ClusterAssignment a;
        a.labelOfLeaf = {1, 0, -1};
        a.clusterNames = {QStringLiteral("C1"), QStringLiteral("math \"hard\"")};
        a.manual = {false, true};
        const QStringList lines =
            clustersCsv({QStringLiteral("wiki"), QStringLiteral("arc"), QStringLiteral("gsm8k")}, a)
                .split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 4);
        QCOMPARE(lines[0], QStringLiteral("index,domain,cluster_id,cluster,manual"));
        QCOMPARE(lines[1], QStringLiteral("0,wiki,2,\"math \"\"hard\"\"\",true"));
        QCOMPARE(lines[2], QStringLiteral("1,arc,1,C1,false"));
        QCOMPARE(lines[3], QStringLiteral("2,gsm8k,,,false"));
    }

    void writesFiles() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("m.csv"));
        QString error;
        QVERIFY2(writeTextFile(path, QStringLiteral("a,b\n"), &error), qPrintable(error));
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), QByteArray("a,b\n"));
        QVERIFY(!writeTextFile(dir.filePath(QStringLiteral("missing/dir/m.csv")),
                               QStringLiteral("x"), &error));
        QVERIFY(!error.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestCsvExport)
#include "tst_csv_export.moc"
