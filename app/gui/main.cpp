// den2moe-studio: the window, or its headless form (see headless.h and --help). The command line is
// parsed like the CLI's and ends through the same boundary (frontend::run_guarded: exit 0 ok, 1 user
// error, 2 internal error, 130 cancelled).
#include "headless.h"
#include "main_window.h"

#include "console.h"

#include "core/interrupts.h"  // Qt-free and torch-free
#include "core/runtime.h"     // Qt-free and torch-free
#include "model/gemm_env.h"   // Qt-free and torch-free

#include <QApplication>
#include <QFileInfo>
#include <QTextStream>

#include <cstdio>
#include <cstring>

namespace {

/// The headless form needs no display: without one (and without a chosen platform) use offscreen
/// rather than abort in QApplication.
void chooseHeadlessPlatform(int argc, char** argv) {
    bool headless = false;
    for (int i = 1; i < argc; ++i) {
        const QByteArray a(argv[i]);
        headless = headless || a == "--screenshot" || a.startsWith("--screenshot=") || a == "--run" ||
                   a.startsWith("--run=") || a == "--table" || a.startsWith("--table=") || a == "--help" || a == "-h" || a == "--version";
    }
    if (headless && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY") &&
        qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY")) {
        qputenv("QT_QPA_PLATFORM", "offscreen");
    }
}

}  // namespace

int main(int argc, char** argv) {
    den2moe::route_interrupts_to_thread();  // first, before any thread starts (core/interrupts.h)
    chooseHeadlessPlatform(argc, argv);
    den2moe::init_runtime();  // threads ($D2M_THREADS or all cores), BLAS kernels, allocator
    // an explicit OPENBLAS_CORETYPE is respected; say once what would be faster (as `den2moe` does)
    if (const den2moe::BlasKernels& blas = den2moe::select_blas_kernels(); !blas.hint.empty())
        std::fprintf(stderr, "note: %s\n", blas.hint.c_str());
    QApplication app(argc, argv);  // takes Qt's own options (-platform, -style, ...) out of argv
    QCoreApplication::setOrganizationName(QStringLiteral("Den2MoE"));
    QCoreApplication::setApplicationName(QStringLiteral("Den2MoE Studio"));
    QCoreApplication::setApplicationVersion(QStringLiteral(D2M_VERSION));

    bool verbose = false;
    for (int i = 1; i < argc; ++i) verbose = verbose || std::strcmp(argv[i], "--verbose") == 0;
    return den2moe::frontend::run_guarded(
        [&] {
            const den2moe::frontend::Args args = den2moe::ui::parseStudioArgs(argc, argv);
            const den2moe::ui::StudioOptions options = den2moe::ui::studioOptionsFrom(args);
            if (options.help) {
                std::fputs(den2moe::ui::studioHelpText().c_str(), stdout);
                return int(den2moe::frontend::kOk);
            }
            if (options.version) {
                std::printf("den2moe-studio %s\n", D2M_VERSION);
                return int(den2moe::frontend::kOk);
            }
            if (args.has("threads")) den2moe::init_runtime(static_cast<int>(args.get_int("threads", 0)));
            den2moe::gemm::check_environment();  // a bad $D2M_GEMM or $D2M_PACKED_WEIGHTS_MB: a user error, now
            if (options.isHeadless()) {
                QTextStream err(stderr);
                return den2moe::ui::runHeadless(options, args, err);
            }

            den2moe::ui::MainWindow window;
            QString project = options.project;
            QString error;
            if (project.isEmpty()) {
                const QStringList recent = window.recentFiles();
                project = (!recent.isEmpty() && QFileInfo::exists(recent.first()))
                              ? recent.first()
                              : den2moe::ui::MainWindow::findDemoProject();
            }
            if (!project.isEmpty() && !window.openProject(project, &error)) {
                std::fprintf(stderr, "warning: %s\n", qPrintable(error));
            }
            window.show();
            return app.exec();
        },
        verbose);
}
