// ExportDialog: "Export to Hugging Face…" — a converted folder, a target format (Mixtral /
// Qwen2-MoE), the zero-padding option and an output folder; Check runs the export linter, Export
// lints and writes. The dialog only collects and shows: the main window runs the request on the
// JobRunner (bridge::exportHf, the same engine calls as `den2moe export`) and hands the result back.
#pragma once

#include <QDialog>
#include <QString>

#include "engine_bridge.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;

namespace den2moe::ui {

struct ExportRequest {
    QString source;
    QString format;  ///< mixtral | qwen2moe
    QString out;
    bool padExperts = false;
    bool lintOnly = false;
};

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    explicit ExportDialog(QWidget* parent = nullptr);
    /// The converted folder to export; the output folder defaults to `<source>-<format>`.
    void setSource(const QString& dir);
    QString source() const;
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

Q_SIGNALS:
    void requested(const den2moe::ui::ExportRequest& request);

private:
    void updateDefaultOut();
    QLineEdit* m_source = nullptr;
    QComboBox* m_format = nullptr;
    QCheckBox* m_pad = nullptr;
    QLineEdit* m_out = nullptr;
    QLabel* m_summary = nullptr;
    QPlainTextEdit* m_report = nullptr;
    QPushButton* m_check = nullptr;
    QPushButton* m_export = nullptr;
    bool m_outEdited = false;
};

}  // namespace den2moe::ui
