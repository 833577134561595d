// den2moe-studio: the window, or its headless form (see headless.h and --help).
#include "headless.h"
#include "main_window.h"

#include "core/runtime.h"  // Qt-free and torch-free

#include <QApplication>
#include <QFileInfo>
#include <QSettings>
#include <QTextStream>

#include <cstdio>

namespace {

/// The headless form needs no display: without one (and without a chosen platform) use offscreen
/// rather than abort in QApplication.
void chooseHeadlessPlatform(int argc, char** argv) {
    bool headless = false;
    for (int i = 1; i < argc; ++i) {
        const QByteArray a(argv[i]);
        headless = headless || a == "--screenshot" || a.startsWith("--screenshot=") || a == "--run" ||
                   a.startsWith("--run=") || a == "--help" || a == "-h" || a == "--version" || a == "-v";
    }
    if (headless && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY") &&
        qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY")) {
        qputenv("QT_QPA_PLATFORM", "offscreen");
    }
}

}  // namespace

int main(int argc, char** argv) {
    chooseHeadlessPlatform(argc, argv);
    den2moe::init_runtime();  // threads ($D2M_THREADS or all cores), BLAS kernels, allocator
    QApplication app(argc, argv);
    QCoreApplication::setOrganizationName(QStringLiteral("Den2MoE"));
    QCoreApplication::setApplicationName(QStringLiteral("Den2MoE Studio"));
    QCoreApplication::setApplicationVersion(QStringLiteral(D2M_VERSION));

    QTextStream out(stdout);
    QTextStream err(stderr);
    den2moe::ui::StudioOptions options;
    QString error;
    if (!den2moe::ui::parseStudioOptions(app.arguments(), &options, &error)) {
        err << "error: " << error << "\n\n" << den2moe::ui::studioHelpText();
        return 2;
    }
    if (options.help) {
        out << den2moe::ui::studioHelpText();
        return 0;
    }
    if (options.version) {
        out << "den2moe-studio " << D2M_VERSION << "\n";
        return 0;
    }
    if (options.isHeadless()) {
        return den2moe::ui::runHeadless(options, err);
    }

    den2moe::ui::MainWindow window;
    QString project = options.project;
    if (project.isEmpty()) {
        const QStringList recent = window.recentFiles();
        project = (!recent.isEmpty() && QFileInfo::exists(recent.first())) ? recent.first()
                                                                            : den2moe::ui::MainWindow::findDemoProject();
    }
    if (!project.isEmpty() && !window.openProject(project, &error)) {
        err << "warning: " << error << "\n";
    }
    window.show();
    return app.exec();
}
