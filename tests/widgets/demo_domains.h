// Made-up but plausible view data for the widget tests and screenshots: 18 calibration domains with
// latent topic vectors, a raw PPL matrix (row = calibration domain, column = evaluation domain),
// the normalised matrix (raw / in-domain PPL of the column), the Pearson correlation between rows
// of log-normalised PPL, and an average-linkage (UPGMA) tree on 1 - correlation (scipy form).
#pragma once

#include "view_data.h"

#include <QVector>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace den2moe::ui::demo {

inline QStringList domainNames() {
    return {QStringLiteral("wiki"),
            QStringLiteral("web"),
            QStringLiteral("gsm8k"),
            QStringLiteral("mmlu_stem"),
            QStringLiteral("mmlu_humanities"),
            QStringLiteral("arc"),
            QStringLiteral("openbookqa"),
            QStringLiteral("python"),
            QStringLiteral("truthfulqa"),
            QStringLiteral("qnli"),
            QStringLiteral("banking"),
            QStringLiteral("news"),
            QStringLiteral("logiqa"),
            QStringLiteral("stories"),
            QStringLiteral("pubmed"),
            QStringLiteral("shakespeare"),
            QStringLiteral("reviews"),
            QStringLiteral("trecqa")};
}

inline MatrixViewData matrix() {
    const QStringList names = domainNames();
    const int n = names.size();
    // Latent topics: encyclopedic/web, exam QA, math/code, narrative, specialised prose.
    const double topic[18][5] = {
        {1.0, 0.2, 0.0, 0.1, 0.1}, {0.9, 0.1, 0.1, 0.2, 0.1}, {0.0, 0.3, 1.0, 0.0, 0.0},
        {0.2, 1.0, 0.4, 0.0, 0.2}, {0.4, 1.0, 0.0, 0.2, 0.0}, {0.2, 0.9, 0.3, 0.0, 0.1},
        {0.3, 0.9, 0.1, 0.1, 0.0}, {0.0, 0.0, 0.9, 0.0, 0.2}, {0.5, 0.8, 0.0, 0.1, 0.0},
        {0.6, 0.7, 0.0, 0.0, 0.1}, {0.3, 0.1, 0.2, 0.0, 1.0}, {1.0, 0.1, 0.0, 0.2, 0.3},
        {0.1, 0.9, 0.5, 0.0, 0.0}, {0.2, 0.0, 0.0, 1.0, 0.0}, {0.4, 0.3, 0.1, 0.0, 0.9},
        {0.0, 0.0, 0.0, 1.0, 0.0}, {0.5, 0.0, 0.0, 0.7, 0.3}, {0.6, 0.8, 0.0, 0.0, 0.2}};
    const double base[18] = {12, 18, 6, 9, 11, 10, 14, 4, 16, 13, 20, 15, 12, 8, 10, 38, 22, 17};
    unsigned seed = 12345;
    auto jitter = [&seed]() {
        seed = seed * 1664525u + 1013904223u;
        return double(seed >> 8) / double(1u << 24) - 0.5;  // [-0.5, 0.5)
    };
    MatrixViewData m;
    m.n = n;
    m.labels = names;
    m.rowTitle = QStringLiteral("Calibration domain");
    m.columnTitle = QStringLiteral("Evaluation domain");
    m.raw.resize(n * n);
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
            double d2 = 0;
            for (int k = 0; k < 5; ++k) {
                d2 += (topic[i][k] - topic[j][k]) * (topic[i][k] - topic[j][k]);
            }
            m.raw[i * n + j] =
                base[j] * std::exp(0.8 * std::sqrt(d2) + (i == j ? 0.0 : 0.15 * jitter()));
        }
    }
    m.normalized.resize(n * n);
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
            m.normalized[i * n + j] = m.raw[i * n + j] / m.raw[j * n + j];
        }
    }
    m.correlation.resize(n * n);
    QVector<double> lg(n * n);
    for (int k = 0; k < n * n; ++k) {
        lg[k] = std::log(m.normalized[k]);
    }
    for (int a = 0; a < n; ++a) {
        for (int b = 0; b < n; ++b) {
            double ma = 0, mb = 0;
            for (int j = 0; j < n; ++j) {
                ma += lg[a * n + j] / n;
                mb += lg[b * n + j] / n;
            }
            double sab = 0, saa = 0, sbb = 0;
            for (int j = 0; j < n; ++j) {
                sab += (lg[a * n + j] - ma) * (lg[b * n + j] - mb);
                saa += (lg[a * n + j] - ma) * (lg[a * n + j] - ma);
                sbb += (lg[b * n + j] - mb) * (lg[b * n + j] - mb);
            }
            m.correlation[a * n + b] = sab / std::sqrt(saa * sbb);
        }
    }
    return m;
}

/// Average linkage on a square distance matrix, in scipy's linkage form (ids >= n are merges).
inline DendrogramData upgma(const QVector<double>& dist, int n, const QStringList& labels) {
    DendrogramData out;
    out.n = n;
    out.labels = labels;
    QVector<int> id(n), size(n, 1);
    QVector<QVector<double>> d(n, QVector<double>(n));
    for (int i = 0; i < n; ++i) {
        id[i] = i;
        for (int j = 0; j < n; ++j) {
            d[i][j] = dist[i * n + j];
        }
    }
    std::vector<char> alive(size_t(std::max(n, 0)), 1);
    for (int step = 0; step < n - 1; ++step) {
        int bi = -1, bj = -1;
        double best = std::numeric_limits<double>::infinity();
        for (int i = 0; i < n; ++i) {
            for (int j = i + 1; j < n; ++j) {
                if (alive[i] && alive[j] && d[i][j] < best) {
                    best = d[i][j];
                    bi = i;
                    bj = j;
                }
            }
        }
        LinkRow row;
        row.a = std::min(id[bi], id[bj]);
        row.b = std::max(id[bi], id[bj]);
        row.height = best;
        row.size = size[bi] + size[bj];
        out.rows << row;
        for (int k = 0; k < n; ++k) {
            if (alive[k] && k != bi && k != bj) {
                const double v =
                    (size[bi] * d[bi][k] + size[bj] * d[bj][k]) / (size[bi] + size[bj]);
                d[bi][k] = d[k][bi] = v;
            }
        }
        alive[bj] = false;
        id[bi] = n + step;
        size[bi] = row.size;
    }
    return out;
}

inline DendrogramData dendrogram(const MatrixViewData& m) {
    QVector<double> dist(m.n * m.n);
    for (int k = 0; k < m.n * m.n; ++k) {
        dist[k] = std::max(0.0, 1.0 - m.correlation[k]);
    }
    for (int i = 0; i < m.n; ++i) {
        dist[i * m.n + i] = 0.0;
    }
    return upgma(dist, m.n, m.labels);
}

}  // namespace den2moe::ui::demo
