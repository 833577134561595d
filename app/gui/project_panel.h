// ProjectPanel: the model and domain pickers and the run settings of the open project, with the
// engine's validation messages (validate_project) shown live, before any run. The panel edits its
// own copy; the window copies the edited fields back with applyTo() when edited() fires.
#pragma once

#include "project/project.h"

#include <QStringList>
#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QSpinBox;

namespace den2moe::ui {

/// @brief Model, domains and run settings of a project, validated live.
class ProjectPanel : public QWidget {
    Q_OBJECT

public:
    explicit ProjectPanel(QWidget* parent = nullptr);

    void setProject(const den2moe::Project& project);
    /// Copies model, dtype, domains, calibration and evaluation settings into `target`.
    void applyTo(den2moe::Project& target) const;
    /// validate_project() on the panel's copy, as shown.
    QStringList validationMessages() const { return m_messages; }

    QLineEdit* modelEdit() const { return m_model; }
    QListWidget* domainList() const { return m_domains; }

Q_SIGNALS:
    void edited();

private:
    void fillDomains();
    void readBack();
    void validate();
    void browseModel();
    void addDomain();
    void removeDomain();

    den2moe::Project m_project;
    QStringList m_messages;
    bool m_filling = false;
    QLineEdit* m_model = nullptr;
    QLabel* m_modelResolved = nullptr;
    QComboBox* m_dtype = nullptr;
    QListWidget* m_domains = nullptr;
    QSpinBox* m_calibSamples = nullptr;
    QSpinBox* m_calibSeq = nullptr;
    QSpinBox* m_evalWindows = nullptr;
    QSpinBox* m_evalSeq = nullptr;
    QLabel* m_validation = nullptr;
};

}  // namespace den2moe::ui
