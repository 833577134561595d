// ExportDialog: "Export to Hugging Face…" — a converted folder, the export settings (generated from
// the engine's export_schema(): target format, dtype, zero-padding, strictness, sharding, tensor-
// parallel check) and an output folder; Check runs the export linter, Export lints and writes. The
// dialog only collects and shows: the main window runs the request on the JobRunner
// (bridge::exportHf, the engine calls of `den2moe export`), keeps the settings in the project
// (settingsEdited) and hands the result back.
#pragma once

#include <QDialog>
#include <QString>

#include "engine_bridge.h"
#include "export/export_settings.h"

class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;

namespace den2moe::ui {

class SettingsForm;

struct ExportRequest {
    QString source;
    QString out;
    den2moe::ExportSettings settings;
    QString tokenizer;  ///< "" = the model's own
    bool lintOnly = false;
};

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    explicit ExportDialog(QWidget* parent = nullptr);
    /// The converted folder to export; the output folder defaults to `<source>-<format>`.
    void setSource(const QString& dir);
    QString source() const;
    /// The shown settings (no settingsEdited()).
    void setSettings(const den2moe::ExportSettings& settings);
    const den2moe::ExportSettings& settings() const { return m_settings; }
    /// Picks a target format as the user would (a format the schema does not know is ignored).
    void setFormat(const QString& format);
    /// An explicit output folder (no longer follows the source / format).
    void setOut(const QString& dir);
    QString out() const;
    ExportRequest request(bool lintOnly) const;
    /// Buttons off while a job runs.
    void setBusy(bool busy);
    void showResult(const bridge::HfExportOutput& r);
    void showError(const QString& message);
    QString reportText() const;
    QString summaryText() const;
    SettingsForm* form() const { return m_form; }

Q_SIGNALS:
    void requested(const den2moe::ui::ExportRequest& request);
    void settingsEdited(const den2moe::ExportSettings& settings);

private:
    void onEdited(const QString& key, const QString& text);
    void updateDefaultOut();
    QLineEdit* m_source = nullptr;
    SettingsForm* m_form = nullptr;
    QLineEdit* m_out = nullptr;
    QLabel* m_summary = nullptr;
    QPlainTextEdit* m_report = nullptr;
    QPushButton* m_check = nullptr;
    QPushButton* m_export = nullptr;
    bool m_outEdited = false;
    den2moe::ExportSettings m_settings;
};

}  // namespace den2moe::ui
