// The one way into QCustomPlot for widgets/ (BUILD-RECIPE §4 pitfall 3): qcustomplot.h 2.1.0 uses
// bare `signals:` and `foreach`, which do not exist under QT_NO_KEYWORDS. Map them to the Q_ forms
// around the include and take them away again, so no other header sees the keywords. Private to
// widgets/: QCP types never appear in a public header of a view.
#pragma once

#if defined(QT_NO_KEYWORDS)
#define signals Q_SIGNALS
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef foreach
#else
#include <qcustomplot.h>
#endif
