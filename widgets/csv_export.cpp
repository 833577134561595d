#include "csv_export.h"

#include <QLocale>
#include <QSaveFile>

#include <cmath>

namespace den2moe::ui {

namespace {

QString number(double v) {
    if (std::isnan(v)) {
        return QString();
    }
    return QString::number(v, 'g', QLocale::FloatingPointShortest);
}

}  // namespace

QString csvField(const QString& text) {
    const bool needsQuotes = text.contains(QLatin1Char(',')) || text.contains(QLatin1Char('"')) ||
                             text.contains(QLatin1Char('\n')) || text.contains(QLatin1Char('\r')) ||
                             text.startsWith(QLatin1Char(' ')) || text.endsWith(QLatin1Char(' '));
    if (!needsQuotes) {
        return text;
    }
    QString quoted = text;
    quoted.replace(QLatin1Char('"'), QStringLiteral("\"\""));
    return QLatin1Char('"') + quoted + QLatin1Char('"');
}

QString matrixCsv(const MatrixViewData& data, MatrixKind kind, const QVector<int>& order) {
    if (!data.has(kind)) {
        return QString();
    }
    QVector<int> ord = order;
    if (ord.size() != data.n) {
        ord.resize(data.n);
        for (int i = 0; i < data.n; ++i) {
            ord[i] = i;
        }
    }
    auto label = [&data](int i) {
        return i < data.labels.size() ? data.labels[i] : QString::number(i);
    };
    QString out;
    QStringList fields{QStringLiteral("domain")};
    for (int c : ord) {
        fields << csvField(label(c));
    }
    out += fields.join(QLatin1Char(',')) + QLatin1Char('\n');
    for (int r : ord) {
        fields = {csvField(label(r))};
        for (int c : ord) {
            fields << number(data.at(kind, r, c));
        }
        out += fields.join(QLatin1Char(',')) + QLatin1Char('\n');
    }
    return out;
}

QString clustersCsv(const QStringList& labels, const ClusterAssignment& clusters) {
    QString out = QStringLiteral("index,domain,cluster_id,cluster,manual\n");
    for (int i = 0; i < labels.size(); ++i) {
        const int c = clusters.labelOfLeaf.value(i, -1);
        const bool manual = c >= 0 && c < clusters.manual.size() && clusters.manual[c];
        QStringList fields{QString::number(i), csvField(labels[i]),
                           c >= 0 ? QString::number(c + 1) : QString(),
                           csvField(clusters.nameOf(c)),
                           manual ? QStringLiteral("true") : QStringLiteral("false")};
        out += fields.join(QLatin1Char(',')) + QLatin1Char('\n');
    }
    return out;
}

bool writeTextFile(const QString& path, const QString& text, QString* error) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
        if (error) {
            *error = QStringLiteral("Cannot write \"%1\": %2").arg(path, file.errorString());
        }
        return false;
    }
    file.write(text.toUtf8());
    if (!file.commit()) {
        if (error) {
            *error = QStringLiteral("Cannot write \"%1\": %2").arg(path, file.errorString());
        }
        return false;
    }
    return true;
}

}  // namespace den2moe::ui
