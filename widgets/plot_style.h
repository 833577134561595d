// Shared QCustomPlot styling and export for the views in widgets/ (internal: includes qcp.h, so
// only widgets/*.cpp and the widget tests include it). One place for the gradients, the fonts and
// the PNG/SVG/PDF export path, so every view looks and exports the same way.
#pragma once

#include "qcp.h"

#include <QString>

namespace den2moe::ui::plotstyle {

/// Perceptual, colour-blind safe sequential map (matplotlib's viridis, 11 stops). QCP 2.1 has none.
QCPColorGradient viridis();
/// Diverging map for signed data centred on 0 (ColorBrewer RdBu, blue negative, red positive).
QCPColorGradient diverging();

QFont baseFont();   ///< tick labels
QFont titleFont();  ///< axis and scale titles
QColor textColor();
QColor frameColor();

/// Axis look shared by the views: thin grey axis line, dark labels, no sub ticks, no grid.
void styleAxis(QCPAxis* axis);

/// Writes the plot to `path`; the suffix picks the format: .png (2x pixel ratio), .svg
/// (QSvgGenerator + toPainter, BUILD-RECIPE §8) or .pdf (savePdf). width/height 0 = the plot's
/// current size.
bool exportPlot(QCustomPlot* plot, const QString& path, int width, int height, QString* error);

}  // namespace den2moe::ui::plotstyle
